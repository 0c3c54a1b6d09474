/**
 * SQL for the product list: one ordered, limited index scan per status (two merged with
 * Merge Append for `status=any`), keyset after the cursor's (sort key, id), and one row
 * more than the page to know whether another page follows.
 */

export type ProductSort = "newest" | "price_asc" | "price_desc" | "best_selling";

interface SortSpec {
  column: string;
  descending: boolean;
  /** SQL type of the sort key in a cursor. */
  cast: "timestamptz" | "bigint";
}

/** Each sort's key column and direction; ties are always by id ascending. */
export const PRODUCT_SORTS: Record<ProductSort, SortSpec> = {
  newest: { column: "created_at", descending: true, cast: "timestamptz" },
  price_asc: { column: "price_cents", descending: false, cast: "bigint" },
  price_desc: { column: "price_cents", descending: true, cast: "bigint" },
  best_selling: { column: "units_sold", descending: true, cast: "bigint" },
};

export interface ProductListFilter {
  table: string;
  status: "active" | "discontinued" | "any";
  category?: string | undefined;
  minPriceCents?: number | undefined;
  maxPriceCents?: number | undefined;
  sort: ProductSort;
  /** Keyset position: the last row of the previous page (sort key as text or number, id). */
  after?: { key: string | number; id: string } | undefined;
  limit: number;
}

/** Builds the list statement; rows are `{ view, row_id, k }` with `k` the sort key as text. */
export function productListSql(filter: ProductListFilter): { text: string; values: unknown[] } {
  const spec = PRODUCT_SORTS[filter.sort];
  const values: unknown[] = [];
  const param = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  const shared: string[] = [];
  if (filter.category !== undefined) shared.push(`category = ${param(filter.category)}`);
  if (filter.minPriceCents !== undefined) shared.push(`price_cents >= ${param(filter.minPriceCents)}`);
  if (filter.maxPriceCents !== undefined) shared.push(`price_cents <= ${param(filter.maxPriceCents)}`);
  if (filter.after !== undefined) {
    const key = `${param(filter.after.key)}::${spec.cast}`;
    const id = `${param(filter.after.id)}::uuid`;
    const [edge, strict] = spec.descending ? ["<=", "<"] : [">=", ">"];
    shared.push(`${spec.column} ${edge} ${key} AND (${spec.column} ${strict} ${key} OR id > ${id})`);
  }
  // One ordered, limited index scan per status; for `any` the planner merges the two
  // (Merge Append) instead of sorting the whole table.
  const order = `${spec.descending ? " DESC" : ""}, id`;
  const limit = param(filter.limit + 1);
  const statuses = filter.status === "any" ? ["active", "discontinued"] : [filter.status];
  const branches = statuses.map((status) => {
    const where = [`status = ${param(status)}`, ...shared].join(" AND ");
    return `(SELECT view, id, ${spec.column} AS s FROM ${filter.table} WHERE ${where} ORDER BY ${spec.column}${order} LIMIT ${limit})`;
  });
  const keyText = spec.cast === "timestamptz" ? `to_char(s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')` : "s::text";
  const text = `SELECT view, id::text AS row_id, ${keyText} AS k FROM (${branches.join(" UNION ALL ")}) AS u ORDER BY s${order} LIMIT ${limit}`;
  return { text, values };
}
