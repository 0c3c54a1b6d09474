/**
 * daily_sales: sales per UTC day of payment, category (as captured at placement) and
 * currency. OrderPaid adds its lines to the payment day's rows (an order counts once
 * per row); OrderCancelled of a paid order takes them out of the day it was paid
 * (`paidAt`); a row whose order count falls to zero is deleted. Redis views: the rows in
 * lex-ordered day sets and an item hash, and the deletion of the query's cached day blobs
 * the row is in (src/shared/daily_sales_keys.ts). Pure.
 */
import type { RecordedEvent } from "../../event_store/types.ts";
import type { OrderCancelled, OrderPaid, SalesLine } from "../../shared/events.ts";
import { dailyBlobField, dailyBlobsKey, dailyItemsKey, dailyMember, dailyPatterns, dailySetKey } from "../../shared/daily_sales_keys.ts";
import { defineProjection, type Row, type RowRef, type ViewOp } from "../define.ts";
import { cellBuffer, cellNumber } from "../shared/cells.ts";
import { jsonBytes } from "../shared/prepared_view.ts";
import { DAILY_SALES_TABLE, dailySalesKey, dailySalesTable } from "./schema.ts";

/** Projection name (progress tracking). */
export const DAILY_SALES = "daily_sales";

interface Sale {
  day: string;
  currency: string;
  lines: SalesLine[];
  sign: 1 | -1;
}

/** Timestamps as the store writes them (UTC, "Z"): their day is their first ten characters. */
const UTC_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

function utcDay(timestamp: string): string {
  // Called for every paid or cancelled order several times per batch (partitioning, touches,
  // reduce): skip the Date round trip for the canonical form.
  if (UTC_ISO.test(timestamp)) return timestamp.slice(0, 10);
  return new Date(timestamp).toISOString().slice(0, 10);
}

function saleOf(event: RecordedEvent): Sale | null {
  if (event.type === "OrderPaid") {
    const data = event.data as OrderPaid["data"];
    return { day: utcDay(event.metadata.occurredAt), currency: data.currency, lines: data.lines, sign: 1 };
  }
  if (event.type === "OrderCancelled") {
    const data = event.data as OrderCancelled["data"];
    if (data.previousStatus !== "paid" || data.paidAt === null) return null;
    return { day: utcDay(data.paidAt), currency: data.currency, lines: data.lines, sign: -1 };
  }
  return null;
}

function touches(event: RecordedEvent): RowRef[] {
  const sale = saleOf(event);
  if (sale === null) return [];
  // A row per distinct category, in the order of first appearance (an order has few lines).
  const categories: string[] = [];
  for (const line of sale.lines) if (!categories.includes(line.category)) categories.push(line.category);
  return categories.map((category) => ({ table: DAILY_SALES_TABLE, key: dailySalesKey(sale.day, category, sale.currency) }));
}

interface KeyParts {
  day: string;
  category: string;
  currency: string;
}

/**
 * Keys parsed so far: there are few (days × categories × currencies) and every sale parses
 * its rows' keys again (reduce, finalize, views): String.split was 0.11 GB of a 1M-event
 * bulk build's allocations (sampling profile). Cleared when it grows past KEY_MEMO_MAX.
 */
const parsedKeys = new Map<string, KeyParts>();
const KEY_MEMO_MAX = 50_000;

function parseKey(key: string): KeyParts {
  let parts = parsedKeys.get(key);
  if (parts === undefined) {
    const [day = "", category = "", currency = ""] = key.split("|");
    parts = { day, category, currency };
    if (parsedKeys.size >= KEY_MEMO_MAX) parsedKeys.clear();
    parsedKeys.set(key, parts);
  }
  return parts;
}

function reduce(ref: RowRef, row: Row | undefined, event: RecordedEvent): Row | undefined {
  const sale = saleOf(event);
  if (sale === null) return row;
  const { day, category, currency } = parseKey(ref.key);
  let units = 0;
  let revenue = 0;
  for (const line of sale.lines) {
    if (line.category !== category) continue;
    units += line.quantity;
    revenue += line.lineTotalCents;
  }
  const orders = (row === undefined ? 0 : cellNumber(row, "orders")) + sale.sign;
  if (orders <= 0) return undefined;
  return {
    key: ref.key,
    day,
    category,
    currency,
    orders,
    units: (row === undefined ? 0 : cellNumber(row, "units")) + sale.sign * units,
    revenue_cents: (row === undefined ? 0 : cellNumber(row, "revenue_cents")) + sale.sign * revenue,
    view: null,
  };
}

function finalize(_table: string, row: Row): Row {
  const { day, category, currency } = parseKey(String(row["key"]));
  const item = {
    date: day, category, currency,
    orders: cellNumber(row, "orders"), units: cellNumber(row, "units"), revenueCents: cellNumber(row, "revenue_cents"),
  };
  return { ...row, view: jsonBytes(item) };
}

/**
 * The row in the day sets (all categories and its category's) and its item in the hash;
 * removed with the row. Last, the day's cached blobs of both sets go (the query joins them
 * again from the items): after the row's own operations, so a query between them that
 * cached the day without this row is undone.
 */
function views(_table: string, key: string, row: Row | undefined, _previous: Row | undefined, version: number): ViewOp[] {
  const { day, category, currency } = parseKey(key);
  const member = dailyMember(day, category, currency);
  const sets = [dailySetKey(version, null), dailySetKey(version, category)];
  const blobs = dailyBlobsKey(version);
  const forget: ViewOp[] = [{ op: "hdel", key: blobs, field: dailyBlobField(null, day) }, { op: "hdel", key: blobs, field: dailyBlobField(category, day) }];
  if (row === undefined) return [...sets.map((set): ViewOp => ({ op: "zrem", key: set, member })), { op: "hdel", key: dailyItemsKey(version), field: member }, ...forget];
  return [
    { op: "hset", key: dailyItemsKey(version), field: member, value: cellBuffer(row, "view") ?? Buffer.alloc(0) },
    ...sets.map((set): ViewOp => ({ op: "zadd", key: set, score: 0, member })),
    ...forget,
  ];
}

/** Folds paid and cancelled-after-payment orders into per-day, category and currency sales rows. */
export const dailySales = defineProjection({
  name: DAILY_SALES,
  version: 1,
  handles: new Set(["OrderPaid", "OrderCancelled"]),
  tables: [dailySalesTable],
  touches,
  reduce,
  finalize,
  views,
  viewCollections: dailyPatterns,
});
