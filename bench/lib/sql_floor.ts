/**
 * The raw-SQL floor for list queries: the exact statements the query side runs for a
 * request (built by the same functions in src/queries), sent with raw `pg` against the
 * service's own database and active read tables, in a closed loop at the same concurrency.
 */
import pg from "pg";
import { bestSellersSql } from "../../src/queries/best_sellers.ts";
import { dailySalesSql } from "../../src/queries/daily_sales.ts";
import { customerOrdersSql } from "../../src/queries/orders.ts";
import { productListSql, type ProductSort } from "../../src/queries/product_list_sql.ts";
import { readTable } from "../../src/shared/read_models.ts";
import { runClosedLoop } from "./closed_loop.ts";
/** The service's PostgreSQL pool size (src/main.ts). */
const SERVICE_POOL_SIZE = 30;
import type { LoadRequest } from "./http_load.ts";
import type { Measurement } from "./types.ts";

/** Physical read tables of the serving versions: logical table name → `<table>_v<version>`. */
export type ActiveTables = Record<string, string>;

export interface Statement {
  text: string;
  values: unknown[];
}

/** Reads the serving version of each projection and returns its physical read tables (products, orders, daily_sales, ...). */
export async function activeReadTables(pool: pg.Pool): Promise<ActiveTables> {
  const result = await pool.query<{ version: number; tables: string[] | null }>(
    "SELECT a.version, p.tables FROM projection_active a LEFT JOIN projections p ON p.name = a.name AND p.version = a.version",
  );
  const tables: ActiveTables = {};
  for (const row of result.rows) {
    for (const physical of row.tables ?? []) tables[physical.replace(/_v\d+$/, "")] = physical;
  }
  return tables;
}

function table(tables: ActiveTables, name: string): string {
  return tables[name] ?? readTable(name, 1);
}

function decodeCursorKey(cursor: string | null): [string | number, string] | undefined {
  if (cursor === null) return undefined;
  const tuple = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as [string, string | number, string];
  return [tuple[1], tuple[2]];
}

/** The statement the service runs for a GET request of the list routes (products, customer orders, best sellers, daily sales), with the service's defaults. */
export function sqlForRequest(request: LoadRequest, tables: ActiveTables): Statement {
  const url = new URL(request.path, "http://floor");
  const q = url.searchParams;
  const limit = (fallback: number): number => Number(q.get("limit") ?? fallback);
  if (url.pathname === "/v1/products") {
    const after = decodeCursorKey(q.get("cursor"));
    const min = q.get("minPriceCents");
    const max = q.get("maxPriceCents");
    return productListSql({
      table: table(tables, "products"),
      status: (q.get("status") ?? "active") as "active" | "discontinued" | "any",
      category: q.get("category") ?? undefined,
      minPriceCents: min === null ? undefined : Number(min),
      maxPriceCents: max === null ? undefined : Number(max),
      sort: (q.get("sort") ?? "newest") as ProductSort,
      after: after === undefined ? undefined : { key: after[0], id: after[1] },
      limit: limit(20),
    });
  }
  const customer = /^\/v1\/customers\/([^/]+)\/orders$/.exec(url.pathname);
  if (customer) {
    const after = decodeCursorKey(q.get("cursor"));
    return customerOrdersSql({ table: table(tables, "orders"), customerId: customer[1]!, status: q.get("status") ?? undefined, after: after === undefined ? undefined : [String(after[0]), after[1]], limit: limit(20) });
  }
  const best = /^\/v1\/categories\/([^/]+)\/best-sellers$/.exec(url.pathname);
  if (best) return { text: bestSellersSql(table(tables, "products")), values: [best[1]!, limit(10)] };
  if (url.pathname === "/v1/stats/daily-sales") {
    return dailySalesSql({ table: table(tables, "daily_sales"), from: q.get("from")!, to: q.get("to")!, category: q.get("category") ?? undefined });
  }
  throw new Error(`no SQL floor for ${request.path}`);
}

export interface SqlFloorOptions {
  label: string;
  databaseUrl: string;
  tables: ActiveTables;
  connections: number;
  durationS: number;
  /** The same request generator (a fresh instance with the same seed) the HTTP run used. */
  next: () => LoadRequest;
}

/**
 * Runs the service's SQL for each generated request through raw pg in a closed loop; unit
 * "req". The pool has the service's own size (30): the service runs meanwhile and holds
 * its connections, and PostgreSQL here allows 100.
 */
export async function measureSqlFloor(options: SqlFloorOptions): Promise<Measurement> {
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: SERVICE_POOL_SIZE });
  pool.on("error", () => undefined);
  try {
    await Promise.all(Array.from({ length: SERVICE_POOL_SIZE }, () => pool.query("SELECT 1")));
    let rows = 0;
    const measurement = await runClosedLoop({
      label: options.label, role: "baseline", unit: "req", concurrency: options.connections, durationS: options.durationS,
      operation: async () => {
        const statement = sqlForRequest(options.next(), options.tables);
        rows += (await pool.query(statement.text, statement.values)).rowCount ?? 0;
      },
    });
    return { ...measurement, notes: [`raw pg, same SQL as the service, ${Math.round((rows / Math.max(1, measurement.operations)) * 10) / 10} rows/req`, measurement.notes].filter(Boolean).join("; ") };
  } finally {
    await pool.end().catch(() => undefined);
  }
}
