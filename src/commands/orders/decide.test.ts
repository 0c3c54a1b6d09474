import { describe, expect, it } from "vitest";
import type { EventMetadata } from "../../event_store/types.ts";
import { ConflictError, NotFoundError, UnprocessableError } from "../../shared/errors.ts";
import type { OrderEvent } from "../../shared/events.ts";
import { fixedClock } from "../clock.ts";
import { decideOrder, evolveOrder, initialOrderState, type OrderCommand, type ProductSnapshot } from "./decide.ts";

const paidClock = fixedClock("2026-11-21T10:15:30.123Z");
const orderId = "22222222-2222-4222-8222-222222222222";
const customerId = "33333333-3333-4333-8333-333333333333";
const p1 = "44444444-4444-4444-8444-444444444441";
const p2 = "44444444-4444-4444-8444-444444444442";
const mug: ProductSnapshot = { status: "active", sku: "MUG", name: "Mug", category: "kitchen", priceCents: 1200, currency: "EUR" };
const pen: ProductSnapshot = { status: "active", sku: "PEN", name: "Pen", category: "office", priceCents: 250, currency: "EUR" };

function meta(occurredAt = "2026-11-20T08:00:00.000Z"): EventMetadata {
  return { occurredAt, correlationId: "test", causationId: null };
}

function place(products: Map<string, ProductSnapshot | null>, lines = [{ productId: p1, quantity: 2 }, { productId: p2, quantity: 4 }]): OrderCommand {
  return { type: "PlaceOrder", data: { orderId, customerId, lines, products } };
}

const placed: OrderEvent = decideOrder(place(new Map([[p1, mug], [p2, pen]])), initialOrderState)[0]!;
const paid: OrderEvent = {
  type: "OrderPaid",
  data: {
    orderId, paymentId: "55555555-5555-4555-8555-555555555555", amountCents: 3400, method: "card", currency: "EUR",
    lines: [{ productId: p1, category: "kitchen", quantity: 2, lineTotalCents: 2400 }, { productId: p2, category: "office", quantity: 4, lineTotalCents: 1000 }],
  },
};
const shipped: OrderEvent = { type: "OrderShipped", data: { orderId, carrier: "DHL", trackingNumber: "T1" } };

function given(...events: [OrderEvent, EventMetadata?][]) {
  const state = events.reduce((s, [e, m]) => evolveOrder(s, e, m ?? meta()), initialOrderState);
  return { when: (command: OrderCommand) => () => decideOrder(command, state) };
}

const pay = (amountCents: number): OrderCommand => ({ type: "PayOrder", data: { paymentId: "55555555-5555-4555-8555-555555555555", amountCents, method: "card" } });
const ship: OrderCommand = { type: "ShipOrder", data: { carrier: "DHL", trackingNumber: "T1" } };
const cancel: OrderCommand = { type: "CancelOrder", data: { reason: "changed mind" } };

describe("order decider", () => {
  it("places an order capturing each product's sku, name, category, price and currency", () => {
    expect(placed).toEqual({
      type: "OrderPlaced",
      data: {
        orderId, customerId, currency: "EUR", totalCents: 3400, itemCount: 6,
        lines: [
          { productId: p1, sku: "MUG", name: "Mug", category: "kitchen", quantity: 2, unitPriceCents: 1200, lineTotalCents: 2400 },
          { productId: p2, sku: "PEN", name: "Pen", category: "office", quantity: 4, unitPriceCents: 250, lineTotalCents: 1000 },
        ],
      },
    });
  });
  it("rejects unknown or discontinued products and mixed currencies with 422", () => {
    expect(given().when(place(new Map([[p1, mug], [p2, null]])))).toThrow(UnprocessableError);
    expect(given().when(place(new Map([[p1, mug], [p2, { ...pen, status: "discontinued" }]])))).toThrow(UnprocessableError);
    expect(given().when(place(new Map([[p1, mug], [p2, { ...pen, currency: "USD" }]])))).toThrow(UnprocessableError);
  });
  it("rejects placing an existing order with 409", () => {
    expect(given([placed]).when(place(new Map([[p1, mug], [p2, pen]])))).toThrow(ConflictError);
  });
  it("answers 404 for commands on an order that does not exist", () => {
    expect(given().when(pay(3400))).toThrow(NotFoundError);
    expect(given().when(ship)).toThrow(NotFoundError);
    expect(given().when(cancel)).toThrow(NotFoundError);
  });
  it("pays a placed order with the exact total, carrying the sales lines", () => {
    expect(given([placed]).when(pay(3400))()).toEqual([paid]);
    expect(given([placed]).when(pay(3399))).toThrow(UnprocessableError);
    expect(given([placed], [paid]).when(pay(3400))).toThrow(ConflictError);
  });
  it("ships only a paid order", () => {
    expect(given([placed], [paid]).when(ship)()).toEqual([shipped]);
    expect(given([placed]).when(ship)).toThrow(ConflictError);
    expect(given([placed], [paid], [shipped]).when(ship)).toThrow(ConflictError);
  });
  it("cancels a placed order with paidAt null", () => {
    expect(given([placed]).when(cancel)()).toEqual([
      { type: "OrderCancelled", data: { orderId, reason: "changed mind", previousStatus: "placed", paidAt: null, currency: "EUR", lines: (paid.data as { lines: unknown }).lines } },
    ]);
  });
  it("cancels a paid order with paidAt = the OrderPaid's occurredAt", () => {
    const paidAt = paidClock.now().toISOString();
    const [event] = given([placed], [paid, meta(paidAt)]).when(cancel)();
    expect(event).toMatchObject({ type: "OrderCancelled", data: { previousStatus: "paid", paidAt } });
  });
  it("rejects cancelling a shipped or cancelled order with 409", () => {
    const cancelled = given([placed]).when(cancel)()[0]!;
    expect(given([placed], [paid], [shipped]).when(cancel)).toThrow(ConflictError);
    expect(given([placed], [cancelled]).when(cancel)).toThrow(ConflictError);
    expect(given([placed], [cancelled]).when(pay(3400))).toThrow(ConflictError);
  });
});
