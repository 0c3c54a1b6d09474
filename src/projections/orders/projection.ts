/**
 * orders: folds order events into one row per order with the order answer and the
 * customer-list item prepared as bytes, and the Redis views:
 *   `orders:v<n>:id:<id>` → frameView(etag, view) (a set op with its etag: framed as written)
 *   `orders:v<n>:id_gz:<id>` → frameView(etag, gzip(view)) when view > 1 KiB
 * Pure: no I/O, no clock; times come from event.metadata.occurredAt.
 */
import type { RecordedEvent } from "../../event_store/types.ts";
import type { OrderCancelled, OrderPaid, OrderPlaced, OrderShipped } from "../../shared/events.ts";
import { customerItemsKey, customerPatterns, customerSetKey, orderMember } from "../../shared/customer_orders_keys.ts";
import { viewKey } from "../../shared/read_models.ts";
import { defineProjection, type Row, type RowRef, type ViewOp } from "../define.ts";
import { cellBuffer, cellIso, cellString, isoOf } from "../shared/cells.ts";
import { jsonBytes, prepareView } from "../shared/prepared_view.ts";
import { ORDERS_TABLE, ordersTable } from "./schema.ts";
import { hasOrder, orderSummary, orderToRow, rowToOrder, type OrderView } from "./state.ts";

/** Projection name (Redis key prefix, progress tracking). */
export const ORDERS = "orders";

function placed(event: RecordedEvent): OrderView {
  const data = event.data as OrderPlaced["data"];
  const at = isoOf(event.metadata.occurredAt);
  return {
    id: data.orderId,
    customerId: data.customerId,
    status: "placed",
    currency: data.currency,
    lines: data.lines.map((line) => ({
      productId: line.productId, sku: line.sku, name: line.name,
      quantity: line.quantity, unitPriceCents: line.unitPriceCents, lineTotalCents: line.lineTotalCents,
    })),
    totalCents: data.totalCents,
    itemCount: data.itemCount,
    payment: null,
    shipment: null,
    cancellation: null,
    placedAt: at,
    updatedAt: at,
    version: event.streamVersion,
  };
}

function apply(order: OrderView, event: RecordedEvent): OrderView {
  const at = isoOf(event.metadata.occurredAt);
  const next: OrderView = { ...order, version: event.streamVersion, updatedAt: at };
  switch (event.type) {
    case "OrderPaid": {
      const data = event.data as OrderPaid["data"];
      next.status = "paid";
      next.payment = { paymentId: data.paymentId, amountCents: data.amountCents, method: data.method, paidAt: at };
      break;
    }
    case "OrderShipped": {
      const data = event.data as OrderShipped["data"];
      next.status = "shipped";
      next.shipment = { carrier: data.carrier, trackingNumber: data.trackingNumber, shippedAt: at };
      break;
    }
    case "OrderCancelled": {
      const data = event.data as OrderCancelled["data"];
      next.status = "cancelled";
      next.cancellation = { reason: data.reason, cancelledAt: at };
      break;
    }
  }
  return next;
}

function touches(event: RecordedEvent): RowRef[] {
  return [{ table: ORDERS_TABLE, key: String(event.data["orderId"]) }];
}

function reduce(_ref: RowRef, row: Row | undefined, event: RecordedEvent): Row | undefined {
  if (event.type === "OrderPlaced") return row ?? orderToRow(placed(event));
  if (row === undefined) return undefined;
  const order = rowToOrder(row);
  // Redelivered events change nothing (the row already has that version).
  if (order.version >= event.streamVersion) return row;
  return orderToRow(apply(order, event));
}

function finalize(_table: string, row: Row): Row {
  const order = rowToOrder(row);
  // An order is built (placed/apply) or parsed (its own view) with the answer's keys in the
  // answer's order: its JSON is the answer, with no copy made to order the keys.
  const prepared = prepareView(order);
  return { ...row, view: prepared.view, view_gz: prepared.view_gz, etag: prepared.etag, summary: jsonBytes(orderSummary(order)) };
}

/**
 * A row a bulk build keeps after writing it: its view, gzip and list-item bytes dropped (a
 * cached order held ~1.2 KB of them until its next event; finalize makes them again from
 * the order, which the row keeps). Rows without the order at hand (read from PostgreSQL,
 * whose state is their view) are kept whole.
 */
function compact(_table: string, row: Row): Row {
  return hasOrder(row) ? { ...row, view: null, view_gz: null, summary: null } : row;
}

/** Shipped and cancelled orders take no more events (no cancellation after shipment). */
function settled(_table: string, row: Row): boolean {
  const status = row["status"];
  return status === "shipped" || status === "cancelled";
}

function views(_table: string, key: string, row: Row | undefined, previous: Row | undefined, version: number): ViewOp[] {
  const idKey = viewKey(ORDERS, version, "id", key);
  const gzKey = viewKey(ORDERS, version, "id_gz", key);
  const ops: ViewOp[] = [];
  // The customer's list: the order's member in the all-statuses set and in its status's set, its item in the hash.
  if (previous !== undefined) {
    const customer = cellString(previous, "customer_id");
    const member = orderMember(cellIso(previous, "placed_at"), key);
    const status = cellString(previous, "status");
    if (row === undefined || cellString(row, "status") !== status) ops.push({ op: "zrem", key: customerSetKey(version, customer, status), member });
    if (row === undefined) ops.push({ op: "zrem", key: customerSetKey(version, customer, null), member }, { op: "hdel", key: customerItemsKey(version, customer), field: member });
  }
  if (row === undefined) return [{ op: "del", key: idKey }, { op: "del", key: gzKey }, ...ops];
  const etag = cellString(row, "etag");
  const gz = cellBuffer(row, "view_gz");
  const customer = cellString(row, "customer_id");
  const member = orderMember(cellIso(row, "placed_at"), key);
  ops.push(
    { op: "set", key: idKey, value: cellBuffer(row, "view") ?? Buffer.alloc(0), etag },
    gz === null ? { op: "del", key: gzKey } : { op: "set", key: gzKey, value: gz, etag },
    { op: "hset", key: customerItemsKey(version, customer), field: member, value: cellBuffer(row, "summary") ?? Buffer.alloc(0) },
    { op: "zadd", key: customerSetKey(version, customer, null), score: 0, member },
    { op: "zadd", key: customerSetKey(version, customer, cellString(row, "status")), score: 0, member },
  );
  return ops;
}

/** Folds order events into order rows (answer and customer-list bytes) and order views. */
export const orders = defineProjection({
  name: ORDERS,
  // v2: no `detail` column; the order's state is read back from its view bytes.
  version: 2,
  handles: new Set(["OrderPlaced", "OrderPaid", "OrderShipped", "OrderCancelled"]),
  tables: [ordersTable],
  touches,
  reduce,
  finalize,
  compact,
  settled,
  // reduce() skips events at or below the row's version (an order's events are its stream's).
  ignoresRedelivery: true,
  views,
  viewCollections: customerPatterns,
});
