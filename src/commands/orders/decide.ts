/**
 * The order aggregate: commands, state, and the pure decide/evolve pair. Product data
 * for placement comes in with the command (read by the route), never from inside decide.
 */
import type { EventMetadata } from "../../event_store/types.ts";
import { ConflictError, NotFoundError, UnprocessableError } from "../../shared/errors.ts";
import type { OrderEvent, OrderLine, PaymentMethod, SalesLine } from "../../shared/events.ts";
import type { Decider } from "../handle.ts";

/** What placement needs to know of a product (null: no such product). */
export interface ProductSnapshot {
  status: "active" | "discontinued";
  sku: string;
  name: string;
  category: string;
  priceCents: number;
  currency: string;
}

export type OrderCommand =
  | {
      type: "PlaceOrder";
      data: {
        orderId: string;
        customerId: string;
        lines: readonly { productId: string; quantity: number }[];
        products: ReadonlyMap<string, ProductSnapshot | null>;
      };
    }
  | { type: "PayOrder"; data: { paymentId: string; amountCents: number; method: PaymentMethod } }
  | { type: "ShipOrder"; data: { carrier: string; trackingNumber: string } }
  | { type: "CancelOrder"; data: { reason: string } };

export interface OrderState {
  status: "none" | "placed" | "paid" | "shipped" | "cancelled";
  orderId: string;
  currency: string;
  lines: OrderLine[];
  totalCents: number;
  /** occurredAt of the OrderPaid event, null until paid. */
  paidAt: string | null;
}

/** The state before an order's first event. */
export const initialOrderState: OrderState = { status: "none", orderId: "", currency: "", lines: [], totalCents: 0, paidAt: null };

function salesLines(lines: readonly OrderLine[]): SalesLine[] {
  return lines.map(({ productId, category, quantity, lineTotalCents }) => ({ productId, category, quantity, lineTotalCents }));
}

function decidePlace(data: Extract<OrderCommand, { type: "PlaceOrder" }>["data"], state: OrderState): OrderEvent[] {
  if (state.status !== "none") throw new ConflictError("Order already exists");
  const lines: OrderLine[] = [];
  const currencies = new Set<string>();
  for (const { productId, quantity } of data.lines) {
    const product = data.products.get(productId) ?? null;
    if (product === null) throw new UnprocessableError(`Product ${productId} does not exist`);
    if (product.status !== "active") throw new UnprocessableError(`Product ${productId} is discontinued`);
    currencies.add(product.currency);
    const { sku, name, category, priceCents } = product;
    lines.push({ productId, sku, name, category, quantity, unitPriceCents: priceCents, lineTotalCents: priceCents * quantity });
  }
  if (currencies.size !== 1) throw new UnprocessableError(`Order lines use more than one currency: ${[...currencies].sort().join(", ")}`);
  const totalCents = lines.reduce((sum, line) => sum + line.lineTotalCents, 0);
  const itemCount = lines.reduce((sum, line) => sum + line.quantity, 0);
  const [currency] = currencies;
  return [{ type: "OrderPlaced", data: { orderId: data.orderId, customerId: data.customerId, currency: currency!, lines, totalCents, itemCount } }];
}

/** Decides the events for an order command. Pure; throws an AppError on a broken rule. */
export function decideOrder(command: OrderCommand, state: OrderState): OrderEvent[] {
  if (command.type !== "PlaceOrder" && state.status === "none") throw new NotFoundError("Order not found");
  switch (command.type) {
    case "PlaceOrder":
      return decidePlace(command.data, state);
    case "PayOrder":
      if (state.status !== "placed") throw new ConflictError(`Order is ${state.status}; only a placed order can be paid`);
      if (command.data.amountCents !== state.totalCents) {
        throw new UnprocessableError(`amountCents ${command.data.amountCents} differs from the order total ${state.totalCents}`);
      }
      return [{ type: "OrderPaid", data: { orderId: state.orderId, ...command.data, currency: state.currency, lines: salesLines(state.lines) } }];
    case "ShipOrder":
      if (state.status !== "paid") throw new ConflictError(`Order is ${state.status}; only a paid order can be shipped`);
      return [{ type: "OrderShipped", data: { orderId: state.orderId, ...command.data } }];
    case "CancelOrder": {
      if (state.status !== "placed" && state.status !== "paid") throw new ConflictError(`Order is ${state.status}; it cannot be cancelled`);
      const previousStatus = state.status;
      const paidAt = previousStatus === "paid" ? state.paidAt : null;
      return [
        {
          type: "OrderCancelled",
          data: { orderId: state.orderId, reason: command.data.reason, previousStatus, paidAt, currency: state.currency, lines: salesLines(state.lines) },
        },
      ];
    }
    default: {
      const unhandled: never = command;
      throw new Error(`Unhandled command ${JSON.stringify(unhandled)}`);
    }
  }
}

/** Folds one order event (with its metadata, for paidAt) into the state. Pure. */
export function evolveOrder(state: OrderState, event: OrderEvent, metadata: EventMetadata): OrderState {
  switch (event.type) {
    case "OrderPlaced":
      return { ...state, status: "placed", orderId: event.data.orderId, currency: event.data.currency, lines: event.data.lines, totalCents: event.data.totalCents };
    case "OrderPaid":
      return { ...state, status: "paid", paidAt: metadata.occurredAt };
    case "OrderShipped":
      return { ...state, status: "shipped" };
    case "OrderCancelled":
      return { ...state, status: "cancelled" };
    default: {
      const unhandled: never = event;
      throw new Error(`Unhandled event ${JSON.stringify(unhandled)}`);
    }
  }
}

/** The order decider for the generic command plumbing. */
export const orderDecider: Decider<OrderCommand, OrderState, OrderEvent> = {
  initialState: initialOrderState,
  evolve: evolveOrder,
  decide: decideOrder,
};
