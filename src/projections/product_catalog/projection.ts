/**
 * product_catalog: folds product events and order sales into one row per product, with
 * the product answer prepared as bytes, and keeps the Redis views in step:
 *   `product_catalog:v<n>:id:<id>` and `…:sku:<sku>` → frameView(etag, view)
 *   `…:id_gz:<id>` and `…:sku_gz:<sku>` → frameView(etag, gzip(view)) when view > 1 KiB
 *   `…:best:<category>` sorted set, member productId, score −unitsSold (ZRANGE order is
 *      unitsSold desc, then productId asc), only products with unitsSold > 0
 *   `…:best_items:<category>` hash productId → best-sellers item JSON bytes
 *   `…:plist:<status>:<sort>:c:<category>` and `…:plist:<status>:<sort>:all` lex-ordered
 *      sets of the product list (src/shared/product_list_keys.ts), cleared before a restore
 * Pure: no I/O, no clock; times come from event.metadata.occurredAt.
 */
import type { RecordedEvent } from "../../event_store/types.ts";
import type { OrderCancelled, OrderPaid, ProductCreated, ProductDetailsChanged, ProductPriceChanged, ProductStockAdjusted, SalesLine } from "../../shared/events.ts";
import { listEntries, listSetPattern } from "../../shared/product_list_keys.ts";
import { viewKey } from "../../shared/read_models.ts";
import { defineProjection, type Row, type RowRef, type ViewOp } from "../define.ts";
import { cellBuffer, cellString, isoOf } from "../shared/cells.ts";
import { jsonBytes, prepareView } from "../shared/prepared_view.ts";
import { PRODUCTS_TABLE, productsTable } from "./schema.ts";
import { bestSellerItem, productToRow, rowToProduct, rowWithSales, type Product } from "./state.ts";

/** Projection name (Redis key prefix, progress tracking). */
export const PRODUCT_CATALOG = "product_catalog";

const PRODUCT_EVENTS = new Set(["ProductCreated", "ProductPriceChanged", "ProductDetailsChanged", "ProductStockAdjusted", "ProductDiscontinued"]);

function salesLines(event: RecordedEvent): SalesLine[] {
  if (event.type === "OrderPaid") return (event.data as OrderPaid["data"]).lines;
  if (event.type === "OrderCancelled") {
    const data = event.data as OrderCancelled["data"];
    return data.previousStatus === "paid" ? data.lines : [];
  }
  return [];
}

function touches(event: RecordedEvent): RowRef[] {
  if (PRODUCT_EVENTS.has(event.type)) return [{ table: PRODUCTS_TABLE, key: String(event.data["productId"]) }];
  const keys = [...new Set(salesLines(event).map((line) => line.productId))];
  return keys.map((key) => ({ table: PRODUCTS_TABLE, key }));
}

function created(event: RecordedEvent): Product {
  const data = event.data as ProductCreated["data"];
  const at = isoOf(event.metadata.occurredAt);
  return {
    id: data.productId, sku: data.sku, name: data.name, description: data.description, category: data.category,
    priceCents: data.priceCents, currency: data.currency, stock: data.stock, status: "active",
    unitsSold: 0, revenueCents: 0, createdAt: at, updatedAt: at, version: event.streamVersion,
  };
}

function applyProductEvent(product: Product, event: RecordedEvent): Product {
  const next: Product = { ...product, version: event.streamVersion, updatedAt: isoOf(event.metadata.occurredAt) };
  switch (event.type) {
    case "ProductPriceChanged":
      next.priceCents = (event.data as ProductPriceChanged["data"]).priceCents;
      break;
    case "ProductDetailsChanged": {
      const data = event.data as ProductDetailsChanged["data"];
      if (data.name !== undefined) next.name = data.name;
      if (data.description !== undefined) next.description = data.description;
      if (data.category !== undefined) next.category = data.category;
      break;
    }
    case "ProductStockAdjusted":
      next.stock = (event.data as ProductStockAdjusted["data"]).stock;
      break;
    case "ProductDiscontinued":
      next.status = "discontinued";
      break;
  }
  return next;
}

function reduce(ref: RowRef, row: Row | undefined, event: RecordedEvent): Row | undefined {
  if (event.type === "ProductCreated") return row ?? productToRow(created(event));
  if (row === undefined) return undefined;
  if (PRODUCT_EVENTS.has(event.type)) {
    const product = rowToProduct(row);
    // Redelivered product events change nothing (the row already has that version).
    if (product.version >= event.streamVersion) return row;
    return productToRow(applyProductEvent(product, event));
  }
  const sign = event.type === "OrderPaid" ? 1 : -1;
  let units = 0;
  let revenue = 0;
  for (const line of salesLines(event)) {
    if (line.productId !== ref.key) continue;
    units += line.quantity;
    revenue += line.lineTotalCents;
  }
  if (units === 0 && revenue === 0) return row;
  // Only the counters change: one new row, not a product object and a row made from it for every sale.
  return rowWithSales(row, sign * units, sign * revenue);
}

function finalize(_table: string, row: Row): Row {
  // rowToProduct builds a fresh product with the answer's keys in the answer's order.
  const prepared = prepareView(rowToProduct(row));
  return { ...row, view: prepared.view, view_gz: prepared.view_gz, etag: prepared.etag };
}

function views(_table: string, key: string, row: Row | undefined, previous: Row | undefined, version: number): ViewOp[] {
  const k = (...parts: string[]): string => viewKey(PRODUCT_CATALOG, version, ...parts);
  const ops: ViewOp[] = [];
  const oldCategory = previous === undefined ? null : cellString(previous, "category");
  if (row === undefined) {
    ops.push({ op: "del", key: k("id", key) }, { op: "del", key: k("id_gz", key) });
    if (previous !== undefined) {
      const sku = cellString(previous, "sku");
      ops.push({ op: "del", key: k("sku", sku) }, { op: "del", key: k("sku_gz", sku) });
    }
    if (oldCategory !== null) ops.push({ op: "zrem", key: k("best", oldCategory), member: key }, { op: "hdel", key: k("best_items", oldCategory), field: key });
    if (previous !== undefined) for (const entry of listEntries(version, rowToProduct(previous))) ops.push({ op: "zrem", key: entry.key, member: entry.member });
    return ops;
  }
  const product = rowToProduct(row);
  const etag = cellString(row, "etag");
  const view = cellBuffer(row, "view") ?? Buffer.alloc(0);
  const gz = cellBuffer(row, "view_gz");
  ops.push({ op: "set", key: k("id", key), value: view, etag }, { op: "set", key: k("sku", product.sku), value: view, etag });
  if (gz !== null) {
    ops.push({ op: "set", key: k("id_gz", key), value: gz, etag }, { op: "set", key: k("sku_gz", product.sku), value: gz, etag });
  } else if (previous === undefined || cellBuffer(previous, "view_gz") !== null || cellString(previous, "sku") !== product.sku) {
    // No gzip now: remove the gzip views, unless the row had none before under the same sku
    // (then there are none: a product's sales rewrite it once per batch).
    ops.push({ op: "del", key: k("id_gz", key) }, { op: "del", key: k("sku_gz", product.sku) });
  }
  if (oldCategory !== null && oldCategory !== product.category) {
    ops.push({ op: "zrem", key: k("best", oldCategory), member: key }, { op: "hdel", key: k("best_items", oldCategory), field: key });
  }
  if (product.unitsSold > 0) {
    ops.push({ op: "zadd", key: k("best", product.category), score: -product.unitsSold, member: key });
    ops.push({ op: "hset", key: k("best_items", product.category), field: key, value: jsonBytes(bestSellerItem(product)) });
  } else {
    ops.push({ op: "zrem", key: k("best", product.category), member: key }, { op: "hdel", key: k("best_items", product.category), field: key });
  }
  // List sets: leave the positions the product no longer has, take the new ones (a restore,
  // with no previous row, adds them all to sets it cleared first).
  const next = listEntries(version, product);
  const before = previous === undefined ? [] : listEntries(version, rowToProduct(previous));
  const same = (a: { key: string; member: string }, b: { key: string; member: string }): boolean => a.key === b.key && a.member === b.member;
  for (const entry of before) if (!next.some((other) => same(entry, other))) ops.push({ op: "zrem", key: entry.key, member: entry.member });
  for (const entry of next) if (!before.some((other) => same(entry, other))) ops.push({ op: "zadd", key: entry.key, score: 0, member: entry.member });
  return ops;
}

/** Folds product events and paid/cancelled order lines into product rows and views. */
export const productCatalog = defineProjection({
  name: PRODUCT_CATALOG,
  version: 1,
  handles: new Set([...PRODUCT_EVENTS, "OrderPaid", "OrderCancelled"]),
  tables: [productsTable],
  touches,
  reduce,
  finalize,
  views,
  // Collections whose stale members (a product moved while views were not written) a
  // restore cannot find one by one: cleared before it rebuilds them.
  viewCollections: (version) => [listSetPattern(version), viewKey(PRODUCT_CATALOG, version, "best", "*"), viewKey(PRODUCT_CATALOG, version, "best_items", "*")],
});

