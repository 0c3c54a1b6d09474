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
import { dailyBlobsKey, dailyItemsKey, dailySetKey } from "../shared/daily_sales_keys.ts";
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
 * Seconds the day blobs live (from the first fill of the hash; then they are joined again).
 * The projection deletes a day's blobs whenever it writes the day, so this only bounds what
 * it cannot: blobs written by this version and left while an older one (which does not
 * delete them) led the projection, as in a rollback and a roll-forward.
 */
export const DAY_BLOBS_TTL_S = 300;

/**
 * The items of a day range of a set, in one atomic call, from the day blobs the script
 * caches (daily_sales_keys.ts; a blob's field is dailyBlobField's `<tag>\0<day>`). KEYS:
 * the views sentinel (unless "1" the script answers false: ask PostgreSQL), the set, the
 * item hash, the blob hash. ARGV: the set's blob tag
 * (its category, "" for all), then every day of the range in order. Only days from the set's
 * first to its last member's day are looked at (the others hold no rows), so the blobs stay
 * bounded by the data: a query for a category without rows, or for years without sales,
 * stores nothing. Days without a blob are joined from the set's members between the first
 * and the last of them and their items, and stored (an empty string for a day without
 * rows). Answers the range's items joined by commas, or false when an item is missing.
 * The hash expires DAY_BLOBS_TTL_S after the script first fills it.
 */
const RANGE_SCRIPT = redisScript(`
if redis.call('GET', KEYS[1]) ~= '1' then return false end
local low = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
if not low then return '' end
local high = redis.call('ZRANGE', KEYS[2], -1, -1)[1]
low = string.sub(low, 1, 10)
high = string.sub(high, 1, 10)
local tag = ARGV[1]
local days = {}
for i = 2, #ARGV do
  if ARGV[i] >= low and ARGV[i] <= high then days[#days + 1] = ARGV[i] end
end
if #days == 0 then return '' end
local fields = {}
for i = 1, #days do fields[i] = tag .. '\\0' .. days[i] end
local blobs = redis.call('HMGET', KEYS[4], unpack(fields))
local first, last
for i = 1, #days do
  if not blobs[i] then
    first = first or i
    last = i
  end
end
if first then
  local members = redis.call('ZRANGEBYLEX', KEYS[2], '[' .. days[first], '(' .. days[last] .. '\\1')
  local byDay = {}
  for start = 1, #members, 500 do
    local stop = math.min(start + 499, #members)
    local values = redis.call('HMGET', KEYS[3], unpack(members, start, stop))
    for i = 1, #values do
      if not values[i] then return false end
      local day = string.sub(members[start + i - 1], 1, 10)
      local items = byDay[day]
      if not items then
        items = {}
        byDay[day] = items
      end
      items[#items + 1] = values[i]
    end
  end
  local writes = {}
  for i = first, last do
    if not blobs[i] then
      local items = byDay[days[i]]
      blobs[i] = items and table.concat(items, ',') or ''
      writes[#writes + 1] = fields[i]
      writes[#writes + 1] = blobs[i]
    end
  end
  redis.call('HSET', KEYS[4], unpack(writes))
  if redis.call('TTL', KEYS[4]) < 0 then redis.call('EXPIRE', KEYS[4], ${DAY_BLOBS_TTL_S}) end
end
local out = {}
for i = 1, #days do
  if blobs[i] ~= '' then out[#out + 1] = blobs[i] end
end
return table.concat(out, ',')
`);

/** Every day from `from` to `to` (inclusive, YYYY-MM-DD, at most MAX_RANGE_DAYS + 1 of them). */
export function daysOf(from: string, to: string): string[] {
  const days: string[] = [];
  const last = Date.parse(`${to}T00:00:00.000Z`);
  for (let time = Date.parse(`${from}T00:00:00.000Z`); time <= last; time += DAY_MS) days.push(new Date(time).toISOString().slice(0, 10));
  return days;
}

/**
 * The range's item bytes from the Redis day blobs, already joined by commas in Redis (one
 * script call, one bulk reply: an array reply of a few hundred items made as many Buffers
 * in the client); null: ask PostgreSQL.
 */
async function itemsFromRedis(redis: Redis | null, version: number, query: { from: string; to: string; category?: string | undefined }): Promise<Buffer[] | null> {
  const category = query.category ?? null;
  const keys = [sentinelKey(DAILY_SALES, version), dailySetKey(version, category), dailyItemsKey(version), dailyBlobsKey(version)];
  const joined = await tryScript(redis, RANGE_SCRIPT, keys, [category ?? "", ...daysOf(query.from, query.to)]);
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
