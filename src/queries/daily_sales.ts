/**
 * Queries on the daily_sales read model: sales per UTC day, category and currency over
 * an inclusive date range of at most 366 days, sorted by date, category, currency (byte
 * order), answered as a concatenation of the prepared item bytes: from the Redis day sets
 * when the views are complete, else from the table.
 */
import type { Redis } from "ioredis";
import { z } from "zod";
import { sendBuilt } from "../http/conditional.ts";
import { checkQuery, waitForPosition, type ConsistencyOptions } from "../http/consistency.ts";
import type { RouteModule } from "../http/route_module.ts";
import { dailyItemsKey, dailySetKey } from "../shared/daily_sales_keys.ts";
import { readTable, sentinelKey } from "../shared/read_models.ts";
import { dailySalesAnswer } from "./answers.ts";
import type { QueryDeps } from "./deps.ts";
import { itemsBody } from "./prepared.ts";
import { redisScript, tryScript } from "./redis_script.ts";
import { queryDoc } from "./route_docs.ts";
import { categorySchema, fromYearOne, parseQueryInput } from "./schemas.ts";
import { viewOrTable } from "./view_source.ts";

/** The projection these routes read. */
export const DAILY_SALES = "daily_sales";

/** Longest range, in days between `from` and `to`. */
export const MAX_RANGE_DAYS = 366;

const DAY_MS = 86_400_000;

function isCalendarDate(text: string): boolean {
  const time = Date.parse(`${text}T00:00:00.000Z`);
  return !Number.isNaN(time) && new Date(time).toISOString().slice(0, 10) === text;
}

const date = fromYearOne(z.iso.date("must be a date YYYY-MM-DD"));
const dailySalesQuery = z
  .strictObject({ from: date, to: date, category: categorySchema.optional() })
  .superRefine((q, ctx) => {
    if (!isCalendarDate(q.from) || !isCalendarDate(q.to)) return;
    const days = (Date.parse(q.to) - Date.parse(q.from)) / DAY_MS;
    if (days < 0) ctx.addIssue({ code: "custom", path: ["to"], message: "must not be before from" });
    else if (days > MAX_RANGE_DAYS) ctx.addIssue({ code: "custom", path: ["to"], message: `must be at most ${MAX_RANGE_DAYS} days after from` });
  });

/** Builds the daily-sales statement; rows are `{ view }` in answer order. */
export function dailySalesSql(options: { table: string; from: string; to: string; category?: string | undefined }): { text: string; values: unknown[] } {
  const values: unknown[] = [options.from, options.to];
  let where = "day BETWEEN $1::date AND $2::date";
  if (options.category !== undefined) {
    values.push(options.category);
    where += ` AND category COLLATE "C" = $3`;
  }
  return {
    text: `SELECT view FROM ${options.table} WHERE ${where} ORDER BY day, category COLLATE "C", currency COLLATE "C"`,
    values,
  };
}

/**
 * The items of a day range of a set, in one atomic call. KEYS: the views sentinel (unless
 * "1" the script answers false: ask PostgreSQL), the set, the item hash. ARGV: the two
 * ZRANGEBYLEX bounds. Answers the item bytes in order, or false when one is missing.
 */
const RANGE_SCRIPT = redisScript(`
if redis.call('GET', KEYS[1]) ~= '1' then return false end
local members = redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], ARGV[2])
local out = {}
for first = 1, #members, 500 do
  local last = math.min(first + 499, #members)
  local values = redis.call('HMGET', KEYS[3], unpack(members, first, last))
  for i = 1, #values do
    if not values[i] then return false end
    out[#out + 1] = values[i]
  end
end
return table.concat(out, ',')
`);

/**
 * The range's item bytes from the Redis day sets, already joined by commas in Redis (one
 * script call, one bulk reply: an array reply of a few hundred items made as many Buffers
 * in the client); null: ask PostgreSQL.
 */
async function itemsFromRedis(redis: Redis | null, version: number, query: { from: string; to: string; category?: string | undefined }): Promise<Buffer[] | null> {
  // Members start "<day>\0": from the first of `from` to before "<to>\u0001", i.e. every member of `to`.
  const range = [`[${query.from}`, `(${query.to}\u0001`];
  const joined = await tryScript(redis, RANGE_SCRIPT, [sentinelKey(DAILY_SALES, version), dailySetKey(version, query.category ?? null), dailyItemsKey(version)], range);
  // One "item" holding them all: itemsBody adds no comma around a single item (empty: no items).
  return Buffer.isBuffer(joined) ? [joined] : null;
}

/** The range's item bytes from the table. */
async function itemsFromPostgres(deps: QueryDeps, version: number, query: { from: string; to: string; category?: string | undefined }): Promise<Buffer[]> {
  const statement = dailySalesSql({ table: readTable("daily_sales", version), ...query });
  return (await deps.pool.query<{ view: Buffer }>(statement.text, statement.values)).rows.map((row) => row.view);
}

/** Route: GET /v1/stats/daily-sales. */
export function dailySalesRoutes(deps: QueryDeps): RouteModule {
  const consistency: ConsistencyOptions = { progress: deps.progress, waitMs: deps.consistencyWaitMs, projections: [DAILY_SALES] };
  return {
    register(router) {
      router.get("/v1/stats/daily-sales", async (ctx) => {
        const { input: query, position } = checkQuery(ctx, () => parseQueryInput(dailySalesQuery, ctx.query, "query"));
        if (position !== null) await waitForPosition(position, consistency);
        const version = deps.activeVersions.get(DAILY_SALES);
        const items = await viewOrTable(deps.onViewRead, () => itemsFromRedis(deps.redis, version, query), () => itemsFromPostgres(deps, version, query));
        await sendBuilt(ctx, itemsBody(items, ""));
      });
    },
    docs: [
      queryDoc({
        path: "/v1/stats/daily-sales",
        summary: "Sales per UTC day, category and currency",
        description: "from and to are inclusive UTC calendar dates (YYYY-MM-DD); to before from, or more than 366 days after it, is a 400, as are unknown query parameters. Sorted by date, category, currency.",
        tags: ["stats"],
        query: dailySalesQuery,
        answer: dailySalesAnswer,
      }),
    ],
  };
}
