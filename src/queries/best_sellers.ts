/**
 * Best sellers of a category: the sorted set `product_catalog:v<n>:best:<category>`
 * (score −unitsSold, so ZRANGE gives unitsSold desc, productId asc) and the item bytes
 * in the hash `…:best_items:<category>`, read atomically in one script call. When Redis
 * is absent, failing, or holds nothing for the category, the table answers instead (a
 * partial index on units_sold > 0), with the same bytes.
 */
import type { Redis } from "ioredis";
import type { Pool } from "../db/pool.ts";
import { sentinelKey, viewKey } from "../shared/read_models.ts";
import type { QueryDeps } from "./deps.ts";
import { redisScript, tryScript } from "./redis_script.ts";
import { viewOrTable } from "./view_source.ts";

// KEYS[3], the views sentinel: unless "1" (complete; a restore clears and refills these sets) the table answers.
const SCRIPT = redisScript(`
if redis.call('GET', KEYS[3]) ~= '1' then return false end
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(ids))
`);

export interface BestSellersLookup {
  redis: Redis | null;
  pool: Pool;
  table: string;
  version: number;
  category: string;
  limit: number;
  onViewRead?: QueryDeps["onViewRead"];
}

async function fromRedis(lookup: BestSellersLookup): Promise<Buffer[] | null> {
  const keys = [
    viewKey("product_catalog", lookup.version, "best", lookup.category),
    viewKey("product_catalog", lookup.version, "best_items", lookup.category),
    sentinelKey("product_catalog", lookup.version),
  ];
  const items = (await tryScript(lookup.redis, SCRIPT, keys, [String(lookup.limit)])) as (Buffer | null)[] | null;
  if (!Array.isArray(items) || items.length === 0 || items.some((item) => item === null)) return null;
  return items as Buffer[];
}

/** The table's best-sellers statement (`$1` category, `$2` limit), served by a partial index. */
export function bestSellersSql(table: string): string {
  return (
    // Ordered by the table's columns (t.units_sold, a bigint), not the select list's text
    // aliases of the same names: ORDER BY a bare name takes the output column, and text sorts
    // 99 before 904 before 3023.
    `SELECT t.id::text AS id, t.sku, t.name, t.units_sold::text AS units_sold, t.revenue_cents::text AS revenue_cents FROM ${table} AS t ` +
    `WHERE t.category = $1 AND t.units_sold > 0 ORDER BY t.units_sold DESC, t.id LIMIT $2`
  );
}

async function fromPostgres(lookup: BestSellersLookup): Promise<Buffer[]> {
  const result = await lookup.pool.query<{ id: string; sku: string; name: string; units_sold: string; revenue_cents: string }>(
    bestSellersSql(lookup.table),
    [lookup.category, lookup.limit],
  );
  return result.rows.map((row) =>
    Buffer.from(JSON.stringify({ productId: row.id, sku: row.sku, name: row.name, unitsSold: Number(row.units_sold), revenueCents: Number(row.revenue_cents) })),
  );
}

/** The best-sellers item bytes of a category, best first, at most `limit`. */
export async function readBestSellers(lookup: BestSellersLookup): Promise<Buffer[]> {
  return viewOrTable(lookup.onViewRead, () => fromRedis(lookup), () => fromPostgres(lookup));
}
