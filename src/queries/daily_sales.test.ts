import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projections } from "../projections/all.ts";
import { dailySales } from "../projections/daily_sales/projection.ts";
import { projectEvents } from "../projections/testing/project.ts";
import { Scenario } from "../projections/testing/scenario.ts";
import { dailyBlobField, dailyBlobsKey, dailyItemsKey, dailyMember } from "../shared/daily_sales_keys.ts";
import { sentinelKey } from "../shared/read_models.ts";
import { databaseAvailable, databaseSkipReason } from "../testing/db.ts";
import { redisAvailable, redisSkipReason } from "../testing/redis.ts";
import { DAY_BLOBS_TTL_S, daysOf } from "./daily_sales.ts";
import { getBoth, getJson, startQueryHarness, withoutSentinel, type QueryHarness } from "./test_harness.ts";

const skip = !databaseAvailable || !redisAvailable;

describe.skipIf(skip)(skip ? `daily sales query: skipped, ${!databaseAvailable ? databaseSkipReason : redisSkipReason}` : "daily sales query", () => {
  let h: QueryHarness;
  const s = new Scenario();
  let book = "";
  let ab = "";

  beforeAll(async () => {
    book = s.createProduct("2026-01-01T00:00:00.000Z", { category: "books", priceCents: 1000 });
    ab = s.createProduct("2026-01-01T00:00:00.000Z", { category: "a-b", priceCents: 100 });
    const abc = s.createProduct("2026-01-01T00:00:00.000Z", { category: "ab", priceCents: 100 });
    const usd = s.createProduct("2026-01-01T00:00:00.000Z", { category: "books", priceCents: 500, currency: "USD" });
    const pay = (day: string, lines: [string, number][]): string => {
      const id = s.placeOrder(`${day}T08:00:00.000Z`, crypto.randomUUID(), lines);
      s.pay(`${day}T09:00:00.000Z`, id);
      return id;
    };
    pay("2026-03-01", [[book, 1], [ab, 2], [abc, 1]]);
    pay("2026-03-01", [[usd, 3]]);
    pay("2026-03-01", [[book, 2]]);
    const gone = pay("2026-03-02", [[book, 5]]);
    s.cancel("2026-03-05T10:00:00.000Z", gone);
    pay("2026-03-03", [[ab, 1]]);
    h = await startQueryHarness(s.log.events);
  });
  afterAll(async () => h?.close());

  it("answers rows sorted by date, category (byte order) and currency, inclusive range; zero rows gone", async () => {
    const response = await getJson(`${h.server.url}/v1/stats/daily-sales?from=2026-03-01&to=2026-03-03`);
    expect(response.status).toBe(200);
    expect(response.json).toEqual({
      items: [
        { date: "2026-03-01", category: "a-b", currency: "EUR", orders: 1, units: 2, revenueCents: 200 },
        { date: "2026-03-01", category: "ab", currency: "EUR", orders: 1, units: 1, revenueCents: 100 },
        { date: "2026-03-01", category: "books", currency: "EUR", orders: 2, units: 3, revenueCents: 3000 },
        { date: "2026-03-01", category: "books", currency: "USD", orders: 1, units: 3, revenueCents: 1500 },
        { date: "2026-03-03", category: "a-b", currency: "EUR", orders: 1, units: 1, revenueCents: 100 },
      ],
    });
    expect(response.headers["etag"]).toMatch(/^"/);
    const narrow = await getJson(`${h.server.url}/v1/stats/daily-sales?from=2026-03-02&to=2026-03-03&category=a-b`);
    expect(narrow.json.items).toEqual([{ date: "2026-03-03", category: "a-b", currency: "EUR", orders: 1, units: 1, revenueCents: 100 }]);
    const books = await getJson(`${h.pgOnly.url}/v1/stats/daily-sales?from=2026-03-01&to=2026-03-01&category=books`);
    expect(books.json.items.map((i: { currency: string }) => i.currency)).toEqual(["EUR", "USD"]);
  });

  it("answers from the Redis day sets with the same bytes as PostgreSQL for every range and category, and falls back when views are not vouched for", async () => {
    const before = { ...h.viewReads };
    const days = ["2026-02-28", "2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"];
    for (const category of [undefined, "a-b", "ab", "books", "nothing"]) {
      for (const [i, from] of days.entries()) {
        for (const to of days.slice(i)) {
          const path = `/v1/stats/daily-sales?from=${from}&to=${to}${category ? `&category=${category}` : ""}`;
          const [redis, pg] = await getBoth(h, path);
          expect(redis.status, path).toBe(200);
          expect(redis.body.toString(), path).toBe(pg.body.toString());
        }
      }
    }
    expect(h.viewReads.redis - before.redis).toBe(5 * 15);
    expect(h.viewReads.postgres - before.postgres).toBe(0);
    const sentinel = sentinelKey("daily_sales", dailySales.version);
    await withoutSentinel(h, sentinel, async () => {
      const path = "/v1/stats/daily-sales?from=2026-03-01&to=2026-03-03";
      const [redis, pg] = await getBoth(h, path);
      expect(redis.body.equals(pg.body)).toBe(true);
      expect(h.viewReads.postgres - before.postgres).toBe(1);
    });
  });

  it("keeps the day blobs it caches in step with the rows: a row's write deletes its day's blobs, the next read joins them again", async () => {
    const version = dailySales.version;
    const blobs = dailyBlobsKey(version);
    const paths = ["/v1/stats/daily-sales?from=2026-04-01&to=2026-04-30", "/v1/stats/daily-sales?from=2026-04-01&to=2026-04-30&category=books"];
    const same = async (): Promise<unknown[]> => {
      const answers = [];
      for (const path of paths) {
        const [redis, pg] = await getBoth(h, path);
        expect(redis.body.toString(), path).toBe(pg.body.toString());
        answers.push(JSON.parse(redis.body.toString()).items);
      }
      return answers;
    };
    const cached = async (day: string): Promise<[number, number]> => [await h.redis.hexists(blobs, dailyBlobField(null, day)), await h.redis.hexists(blobs, dailyBlobField("books", day))];
    const before = { ...h.viewReads };
    const apply = async (write: () => void): Promise<void> => {
      const count = s.log.events.length;
      write();
      await projectEvents({ pool: h.db.pool, redis: h.redis, definitions: projections, events: s.log.events.slice(count) });
    };
    let order = "";
    await apply(() => {
      order = s.placeOrder("2026-04-10T08:00:00.000Z", crypto.randomUUID(), [[book, 2], [ab, 1]]);
      s.pay("2026-04-10T09:00:00.000Z", order);
    });
    expect(await same()).toEqual([
      [{ date: "2026-04-10", category: "a-b", currency: "EUR", orders: 1, units: 1, revenueCents: 100 }, { date: "2026-04-10", category: "books", currency: "EUR", orders: 1, units: 2, revenueCents: 2000 }],
      [{ date: "2026-04-10", category: "books", currency: "EUR", orders: 1, units: 2, revenueCents: 2000 }],
    ]);
    // Every day of both ranges up to the sets' last day (2026-04-10) is cached now, days without rows too; none after it.
    expect(await cached("2026-04-10")).toEqual([1, 1]);
    expect(await cached("2026-04-05")).toEqual([1, 1]);
    expect(await h.redis.hget(blobs, dailyBlobField(null, "2026-04-05"))).toBe("");
    expect(await cached("2026-04-11")).toEqual([0, 0]);
    // The hash expires (a bound on blobs no write deletes: left while an older version, which does not, led the projection).
    const ttl = await h.redis.ttl(blobs);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(DAY_BLOBS_TTL_S);
    await apply(() => {
      const more = s.placeOrder("2026-04-10T10:00:00.000Z", crypto.randomUUID(), [[book, 1]]);
      s.pay("2026-04-10T11:00:00.000Z", more);
    });
    // The write deleted the day's blobs of both sets it touched, and no other day's.
    expect(await cached("2026-04-10")).toEqual([0, 0]);
    expect(await cached("2026-04-05")).toEqual([1, 1]);
    expect((await same())[1]).toEqual([{ date: "2026-04-10", category: "books", currency: "EUR", orders: 2, units: 3, revenueCents: 3000 }]);
    await apply(() => s.cancel("2026-04-12T10:00:00.000Z", order));
    expect(await same()).toEqual([
      [{ date: "2026-04-10", category: "books", currency: "EUR", orders: 1, units: 1, revenueCents: 1000 }],
      [{ date: "2026-04-10", category: "books", currency: "EUR", orders: 1, units: 1, revenueCents: 1000 }],
    ]);
    expect(h.viewReads.postgres - before.postgres).toBe(0);
    // Days outside a set's first and last day, and categories without rows, are not cached: the blobs stay bounded by the data.
    const fields = await h.redis.hlen(blobs);
    for (const path of ["/v1/stats/daily-sales?from=2030-01-01&to=2030-12-31", "/v1/stats/daily-sales?from=2025-01-01&to=2025-12-31&category=books", "/v1/stats/daily-sales?from=2026-01-01&to=2026-12-31&category=nothing-here"]) {
      const [redis, pg] = await getBoth(h, path);
      expect(JSON.parse(redis.body.toString()), path).toEqual({ items: [] });
      expect(redis.body.toString(), path).toBe(pg.body.toString());
    }
    expect(await h.redis.hlen(blobs)).toBe(fields);
    expect(h.viewReads.postgres - before.postgres).toBe(0);
    // A blob whose items are gone from the hash is not trusted: the item is missing, PostgreSQL answers.
    await h.redis.hdel(blobs, dailyBlobField(null, "2026-04-10"));
    await h.redis.hdel(dailyItemsKey(version), dailyMember("2026-04-10", "books", "EUR"));
    const [redis, pg] = await getBoth(h, paths[0]!);
    expect(redis.body.toString()).toBe(pg.body.toString());
    expect(h.viewReads.postgres - before.postgres).toBe(1);
  });

  it("lists every day of a range, across months, leap days and years", () => {
    expect(daysOf("2024-02-28", "2024-03-01")).toEqual(["2024-02-28", "2024-02-29", "2024-03-01"]);
    expect(daysOf("2026-12-31", "2027-01-01")).toEqual(["2026-12-31", "2027-01-01"]);
    expect(daysOf("2026-03-01", "2026-03-01")).toEqual(["2026-03-01"]);
    expect(daysOf("2024-01-01", "2025-01-01")).toHaveLength(367);
    expect(daysOf("0001-01-01", "0001-01-02")).toEqual(["0001-01-01", "0001-01-02"]);
  });

  it("accepts exactly 366 days and rejects more, a reversed range, bad dates and unknown parameters", async () => {
    expect((await getJson(`${h.server.url}/v1/stats/daily-sales?from=2024-01-01&to=2025-01-01`)).status).toBe(200);
    const cases: [string, string[]][] = [
      ["from=2024-01-01&to=2025-01-02", ["query.to"]],
      ["from=2026-03-02&to=2026-03-01", ["query.to"]],
      ["from=2026-02-30&to=2026-03-01", ["query.from"]],
      ["to=2026-03-01&category=Books", ["query.category", "query.from"]],
      ["from=2026-03-01&to=2026-03-01&page=2", ["query.page"]],
      // PostgreSQL has no year 0: a 400 on either path, not the store's error.
      ["from=0000-01-01&to=0000-12-31", ["query.from", "query.to"]],
      ["from=0000-13-45&to=2026-03-01", ["query.from"]],
      ["from=2026-03-01&from=2026-03-01&to=2026-03-02", ["query.from"]],
    ];
    for (const [query, paths] of cases) {
      for (const url of [h.server.url, h.pgOnly.url]) {
        const response = await getJson(`${url}/v1/stats/daily-sales?${query}`);
        expect(response.status, query).toBe(400);
        expect(response.json.errors.map((e: { path: string }) => e.path).sort(), query).toEqual(paths);
      }
    }
    const twice = await getJson(`${h.server.url}/v1/stats/daily-sales?from=2026-03-01&from=2026-03-01&to=2026-03-02`);
    expect(twice.json.errors).toEqual([{ path: "query.from", message: "must be given once" }]);
    // A malformed date says so once (not also "year 0001 or later").
    expect((await getJson(`${h.server.url}/v1/stats/daily-sales?from=0000-13-45&to=2026-03-01`)).json.errors).toEqual([{ path: "query.from", message: "must be a date YYYY-MM-DD" }]);
  });
});
