/**
 * The product_catalog read table: one row per product with a column for every field of
 * the product answer, the prepared answer bytes (view, view_gz, etag), and the indexes
 * the product queries read by (sku lookup, each list sort with and without category,
 * best sellers per category).
 */
import type { TableModel } from "../define.ts";

/** Logical table name of the product rows. */
export const PRODUCTS_TABLE = "products";

/** The list sorts and the index key each one reads in order (ties: id ascending). */
const SORT_KEYS: Record<string, string> = {
  newest: "created_at DESC, id",
  price_asc: "price_cents, id",
  price_desc: "price_cents DESC, id",
  best_selling: "units_sold DESC, id",
};

/** The products table model: key `id`; physical name `products_v<version>`. */
export const productsTable: TableModel = {
  table: PRODUCTS_TABLE,
  key: "id",
  columns: [
    { name: "id", type: "uuid" },
    { name: "sku", type: "text" },
    { name: "name", type: "text" },
    { name: "description", type: "text" },
    { name: "category", type: "text" },
    { name: "price_cents", type: "bigint" },
    { name: "currency", type: "text" },
    { name: "stock", type: "int" },
    { name: "status", type: "text" },
    { name: "units_sold", type: "bigint" },
    { name: "revenue_cents", type: "bigint" },
    { name: "created_at", type: "timestamptz" },
    { name: "updated_at", type: "timestamptz" },
    { name: "version", type: "int" },
    { name: "view", type: "bytea" },
    { name: "view_gz", type: "bytea" },
    { name: "etag", type: "text" },
  ],
  indexes(physical) {
    const statements = [`CREATE UNIQUE INDEX ${physical}_sku ON ${physical} (sku)`];
    for (const [sort, keys] of Object.entries(SORT_KEYS)) {
      statements.push(`CREATE INDEX ${physical}_cat_${sort} ON ${physical} (status, category, ${keys})`);
      statements.push(`CREATE INDEX ${physical}_all_${sort} ON ${physical} (status, ${keys})`);
    }
    statements.push(`CREATE INDEX ${physical}_best ON ${physical} (category, units_sold DESC, id) WHERE units_sold > 0`);
    return statements;
  },
};
