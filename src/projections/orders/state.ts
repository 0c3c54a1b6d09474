/**
 * An order as the orders read model holds it (exactly the order answer) and its
 * conversion to and from an orders row.
 */
import type { Row } from "../define.ts";
import { cellIso, cellJson, cellNumber, cellString } from "../shared/cells.ts";

export interface OrderViewLine {
  productId: string;
  sku: string;
  name: string;
  quantity: number;
  unitPriceCents: number;
  lineTotalCents: number;
}

export interface OrderView {
  id: string;
  customerId: string;
  status: "placed" | "paid" | "shipped" | "cancelled";
  currency: string;
  lines: OrderViewLine[];
  totalCents: number;
  itemCount: number;
  payment: { paymentId: string; amountCents: number; method: string; paidAt: string } | null;
  shipment: { carrier: string; trackingNumber: string; shippedAt: string } | null;
  cancellation: { reason: string; cancelledAt: string } | null;
  placedAt: string;
  updatedAt: string;
  version: number;
}

type Detail = Pick<OrderView, "lines" | "payment" | "shipment" | "cancellation">;

/** Reads an order from a row (as written or as loaded from PostgreSQL). */
export function rowToOrder(row: Row): OrderView {
  const detail = (cellJson(row, "detail") ?? {}) as Partial<Detail>;
  return {
    id: cellString(row, "id"),
    customerId: cellString(row, "customer_id"),
    status: cellString(row, "status") as OrderView["status"],
    currency: cellString(row, "currency"),
    lines: detail.lines ?? [],
    totalCents: cellNumber(row, "total_cents"),
    itemCount: cellNumber(row, "item_count"),
    payment: detail.payment ?? null,
    shipment: detail.shipment ?? null,
    cancellation: detail.cancellation ?? null,
    placedAt: cellIso(row, "placed_at"),
    updatedAt: cellIso(row, "updated_at"),
    version: cellNumber(row, "version"),
  };
}

/** The row columns of an order; the prepared columns are left for finalize. */
export function orderToRow(order: OrderView): Row {
  const detail: Detail = { lines: order.lines, payment: order.payment, shipment: order.shipment, cancellation: order.cancellation };
  return {
    id: order.id,
    customer_id: order.customerId,
    status: order.status,
    currency: order.currency,
    total_cents: order.totalCents,
    item_count: order.itemCount,
    placed_at: order.placedAt,
    updated_at: order.updatedAt,
    version: order.version,
    detail: JSON.stringify(detail),
    view: null,
    view_gz: null,
    etag: null,
    summary: null,
  };
}

/** The order answer with its keys (and nested keys) in answer order. */
export function orderAnswer(order: OrderView): OrderView {
  const { payment, shipment, cancellation } = order;
  return {
    id: order.id,
    customerId: order.customerId,
    status: order.status,
    currency: order.currency,
    lines: order.lines.map((line) => ({
      productId: line.productId, sku: line.sku, name: line.name,
      quantity: line.quantity, unitPriceCents: line.unitPriceCents, lineTotalCents: line.lineTotalCents,
    })),
    totalCents: order.totalCents,
    itemCount: order.itemCount,
    payment: payment === null ? null : { paymentId: payment.paymentId, amountCents: payment.amountCents, method: payment.method, paidAt: payment.paidAt },
    shipment: shipment === null ? null : { carrier: shipment.carrier, trackingNumber: shipment.trackingNumber, shippedAt: shipment.shippedAt },
    cancellation: cancellation === null ? null : { reason: cancellation.reason, cancelledAt: cancellation.cancelledAt },
    placedAt: order.placedAt,
    updatedAt: order.updatedAt,
    version: order.version,
  };
}

/** The customer-list item `{ id, status, totalCents, currency, itemCount, placedAt, updatedAt }`. */
export function orderSummary(order: OrderView): Record<string, unknown> {
  return {
    id: order.id, status: order.status, totalCents: order.totalCents, currency: order.currency,
    itemCount: order.itemCount, placedAt: order.placedAt, updatedAt: order.updatedAt,
  };
}
