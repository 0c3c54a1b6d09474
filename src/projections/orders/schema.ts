/**
 * The orders read table: one row per order with the columns customer lists filter and
 * sort by and the prepared bytes: `view`/`view_gz`/`etag` for the order answer (its JSON is
 * also the order's whole state, which the fold reads back) and `summary` for the
 * customer-list item.
 */
import type { TableModel } from "../define.ts";

/** Logical table name of the order rows. */
export const ORDERS_TABLE = "orders";

/** The orders table model: key `id`; physical name `orders_v<version>`. */
export const ordersTable: TableModel = {
  table: ORDERS_TABLE,
  key: "id",
  columns: [
    { name: "id", type: "uuid" },
    { name: "customer_id", type: "uuid" },
    { name: "status", type: "text" },
    { name: "currency", type: "text" },
    { name: "total_cents", type: "bigint" },
    { name: "item_count", type: "int" },
    { name: "placed_at", type: "timestamptz" },
    { name: "updated_at", type: "timestamptz" },
    { name: "version", type: "int" },
    { name: "view", type: "bytea" },
    { name: "view_gz", type: "bytea" },
    { name: "etag", type: "text" },
    { name: "summary", type: "bytea" },
  ],
  indexes(physical) {
    return [
      `CREATE INDEX ${physical}_customer ON ${physical} (customer_id, placed_at DESC, id DESC)`,
      `CREATE INDEX ${physical}_customer_status ON ${physical} (customer_id, status, placed_at DESC, id DESC)`,
    ];
  },
};
