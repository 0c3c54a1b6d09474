/**
 * Read scenarios (one per query route): the service under load next to (a) the raw-SQL
 * floor — the same statements through raw pg on the same database at the same concurrency
 * and parameter distribution (list routes; goal ≥ 0.5×) — and (b) the bare HTTP floor with
 * the same body size. product-list is measured on first pages and on deep cursors.
 */
import pg from "pg";
import { runHttpLoad, warmUp, type LoadRequest } from "../lib/http_load.ts";
import { compare } from "../lib/report.ts";
import { collectDeepProductPages, pickPaths, productListRequests, requestGenerators, typicalBodyBytes, type RequestKind } from "../lib/requests.ts";
import { activeReadTables, measureSqlFloor, type ActiveTables } from "../lib/sql_floor.ts";
import { sharedTarget, type Target } from "../lib/target.ts";
import type { BenchOptions, Comparison, Measurement, Scenario } from "../lib/types.ts";
import { measureHttpFloor } from "./http_floor.ts";

/** Goal for a list route against its raw-SQL floor (throughput ratio). */
export const SQL_FLOOR_GOAL = 0.5;

const DESCRIPTIONS: Partial<Record<RequestKind, string>> = {
  "product-by-id": "GET /v1/products/{id} (10% by-sku), Zipf-skewed products",
  "product-list": "GET /v1/products?category=…&sort=… (first pages and deep cursors), limit 20",
  "customer-orders": "GET /v1/customers/{id}/orders, Zipf-skewed customers",
  "order-by-id": "GET /v1/orders/{id}, uniform over seeded orders",
  "best-sellers": "GET /v1/categories/{category}/best-sellers",
  "daily-sales": "GET /v1/stats/daily-sales over random 1–31-day ranges, half by category",
};

/** Routes whose SQL the raw-SQL floor runs (by-id routes answer from Redis/prepared rows: HTTP floor only). */
const SQL_FLOOR_KINDS = new Set<RequestKind>(["product-list", "customer-orders", "best-sellers", "daily-sales"]);

interface Variant {
  name: string;
  /** A fresh generator: each call starts the same deterministic sequence (HTTP and SQL see the same parameters). */
  fresh: () => () => LoadRequest;
}

async function variantsFor(kind: RequestKind, target: Target, options: BenchOptions, params: Record<string, unknown>): Promise<Variant[]> {
  const seed = target.size.seed;
  if (kind !== "product-list") return [{ name: "", fresh: () => requestGenerators(target.size, target.token)[kind] }];
  // Deep pages: pages 2..6 of every category, walked once before measuring (smoke: limit 2 so tiny data has pages).
  const deepLimit = options.smoke ? 2 : 20;
  const deepBest = await collectDeepProductPages(target.url, { sort: "best_selling", limit: deepLimit, fromPage: 2, toPage: 6 });
  const deepAll = (await Promise.all((["newest", "price_asc", "price_desc", "best_selling"] as const).map((sort) => collectDeepProductPages(target.url, { sort, limit: deepLimit, fromPage: 2, toPage: 6 })))).flat();
  Object.assign(params, { deepPages: "2..6", deepLimit, deepBestSellingPaths: deepBest.length, deepAllSortsPaths: deepAll.length });
  const variants: Variant[] = [
    { name: "best_selling p1", fresh: () => productListRequests(seed, "best_selling") },
    { name: "all sorts p1", fresh: () => productListRequests(seed, "any") },
  ];
  if (deepBest.length > 0) variants.push({ name: "best_selling deep", fresh: () => pickPaths(deepBest, seed, "deep-best") });
  if (deepAll.length > 0) variants.push({ name: "all sorts deep", fresh: () => pickPaths(deepAll, seed, "deep-all") });
  return variants;
}

async function serviceTables(databaseUrl: string): Promise<ActiveTables> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  try {
    return await activeReadTables(pool);
  } finally {
    await pool.end();
  }
}

/** A scenario that loads one read route after seeding and catching up, then its SQL floor (list routes) and the HTTP floor with the same body size. */
export function readScenario(kind: RequestKind): Scenario {
  const sqlFloor = SQL_FLOOR_KINDS.has(kind);
  return {
    name: kind,
    description: `${DESCRIPTIONS[kind] ?? kind} vs. ${sqlFloor ? "raw pg running the same SQL (goal ≥ 0.5×) and " : ""}the HTTP floor`,
    async run(options) {
      const measurements: Measurement[] = [];
      const comparisons: Comparison[] = [];
      const target = await sharedTarget(options);
      const params: Record<string, unknown> = { seededEvents: target.seededEvents, size: target.size };
      const tables = sqlFloor && target.databaseUrl ? await serviceTables(target.databaseUrl) : null;
      if (kind === "best-sellers") params["note"] = "the service answers from Redis when it is up (table SQL as fallback); the floor runs the table SQL";
      if (sqlFloor) params["sqlFloor"] = tables ? { tables, pool: "poolSizeFor(connections)" } : "not measured: external --url (no database URL of the service)";
      for (const variant of await variantsFor(kind, target, options, params)) {
        const tag = variant.name === "" ? kind : `${kind} ${variant.name}`;
        const bodyBytes = await typicalBodyBytes(target.url, variant.fresh());
        params[`typicalBodyBytes${variant.name === "" ? "" : ` ${variant.name}`}`] = bodyBytes;
        await warmUp({ url: target.url, next: variant.fresh(), connections: options.connections[0]!, durationS: options.durationS });
        for (const connections of options.connections) {
          const subject = `${tag} @${connections}`;
          measurements.push(await runHttpLoad({ label: subject, role: "subject", url: target.url, connections, durationS: options.durationS, next: variant.fresh(), okStatuses: [304], peakRss: target.peakRss, rssOf: "service child (shared by read scenarios; peak so far)" }));
          if (tables && target.databaseUrl) {
            const floorLabel = `sql-floor${variant.name === "" ? "" : ` ${variant.name}`} @${connections}`;
            measurements.push(await measureSqlFloor({ label: floorLabel, databaseUrl: target.databaseUrl, tables, connections, durationS: options.durationS, next: variant.fresh() }));
            const c = compare(measurements, subject, floorLabel, SQL_FLOOR_GOAL);
            if (c) comparisons.push(c);
          }
          const http = await measureHttpFloor(options, bodyBytes, connections);
          const httpLabel = variant.name === "" ? http.label : `${http.label} (${variant.name})`;
          measurements.push({ ...http, label: httpLabel });
          const c = compare(measurements, subject, httpLabel);
          if (c) comparisons.push(c);
        }
      }
      return { params, measurements, comparisons };
    },
  };
}
