/**
 * An order as the orders read model holds it (exactly the order answer) and its
 * conversion to and from an orders row.
 */
import type { Row } from "../define.ts";
import { cellBuffer } from "../shared/cells.ts";

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

/**
 * The order each row holds. A row's state is its `view` (the order answer's JSON, which has
 * every field of the order); rows made by orderToRow during a fold carry theirs under this
 * symbol until finalize writes the bytes (its `{ ...row }` keeps it: no JSON.parse of a row
 * just written). A memo of a pure function: rows are never modified. A symbol property, not
 * a WeakMap: a WeakMap entry per row cost 1.5 s of a 1M-event build (its ephemerons too).
 */
const ORDER: unique symbol = Symbol("order");
type OrderRow = Row & { [ORDER]?: OrderView };

/** Orders read back from rows loaded from PostgreSQL (which have no memo of their own). */
const parsed = new WeakMap<Row, OrderView>();

/** True when the row carries its order (made by orderToRow, or a copy of such a row): its state does not depend on its view bytes. */
export function hasOrder(row: Row): boolean {
  return (row as OrderRow)[ORDER] !== undefined;
}

/** Reads an order from a row (as written by orderToRow or loaded from PostgreSQL). */
export function rowToOrder(row: Row): OrderView {
  const known = (row as OrderRow)[ORDER] ?? parsed.get(row);
  if (known) return known;
  const view = cellBuffer(row, "view");
  if (view === null) throw new Error(`Order row ${String(row["id"])} has no view`);
  const order = JSON.parse(view.toString("utf8")) as OrderView;
  parsed.set(row, order);
  return order;
}

/** The row columns of an order; the prepared columns (view, view_gz, etag, summary) are left for finalize. */
export function orderToRow(order: OrderView): Row {
  const row: OrderRow = {
    [ORDER]: order,
    id: order.id,
    customer_id: order.customerId,
    status: order.status,
    currency: order.currency,
    total_cents: order.totalCents,
    item_count: order.itemCount,
    placed_at: order.placedAt,
    updated_at: order.updatedAt,
    version: order.version,
    view: null,
    view_gz: null,
    etag: null,
    summary: null,
  };
  return row;
}

/** The customer-list item `{ id, status, totalCents, currency, itemCount, placedAt, updatedAt }`. */
export function orderSummary(order: OrderView): Record<string, unknown> {
  return {
    id: order.id, status: order.status, totalCents: order.totalCents, currency: order.currency,
    itemCount: order.itemCount, placedAt: order.placedAt, updatedAt: order.updatedAt,
  };
}
