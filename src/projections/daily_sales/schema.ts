/**
 * The daily_sales read table: one row per UTC day, category and currency with at least
 * one line of a paid order, keyed `<YYYY-MM-DD>|<category>|<currency>`, with the
 * stats item prepared as bytes (`view`). Text ordering uses the C collation so the
 * answer order never depends on the database locale.
 */
import type { TableModel } from "../define.ts";

/** Logical table name of the daily sales rows. */
export const DAILY_SALES_TABLE = "daily_sales";

/** The daily_sales table model: key `key`; physical name `daily_sales_v<version>`. */
export const dailySalesTable: TableModel = {
  table: DAILY_SALES_TABLE,
  key: "key",
  columns: [
    { name: "key", type: "text" },
    { name: "day", type: "date" },
    { name: "category", type: "text" },
    { name: "currency", type: "text" },
    { name: "orders", type: "int" },
    { name: "units", type: "bigint" },
    { name: "revenue_cents", type: "bigint" },
    { name: "view", type: "bytea" },
  ],
  indexes(physical) {
    return [`CREATE INDEX ${physical}_day ON ${physical} (day, category COLLATE "C", currency COLLATE "C")`];
  },
};

/** The row key of a day, category and currency. */
export function dailySalesKey(day: string, category: string, currency: string): string {
  return `${day}|${category}|${currency}`;
}
