import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { orders } from "../projections/orders/projection.ts";
import { Scenario } from "../projections/testing/scenario.ts";
import { sentinelKey } from "../shared/read_models.ts";
import { databaseAvailable, databaseSkipReason } from "../testing/db.ts";
import { redisAvailable, redisSkipReason } from "../testing/redis.ts";
import { get, getBoth, getJson, startQueryHarness, withoutSentinel, type QueryHarness } from "./test_harness.ts";

const T = (n: number): string => new Date(Date.UTC(2026, 10, 21, 10, 0, n)).toISOString();
const skip = !databaseAvailable || !redisAvailable;

interface Summary { id: string; status: string; placedAt: string }

describe.skipIf(skip)(skip ? `order queries: skipped, ${!databaseAvailable ? databaseSkipReason : redisSkipReason}` : "order queries", () => {
  const s = new Scenario();
  const customer = crypto.randomUUID();
  const other = crypto.randomUUID();
  let h: QueryHarness;
  const placed: { id: string; at: string; status: string }[] = [];

  beforeAll(async () => {
    const p = s.createProduct(T(0), { priceCents: 250 });
    const many: [string, number][] = [];
    for (let i = 0; i < 12; i++) many.push([s.createProduct(T(0), { name: `A product with a rather long name, number ${i}` }), i + 1]);
    // Three orders share a placedAt (ties by id desc).
    const times = [1, 2, 2, 2, 3, 4, 5];
    for (const [i, t] of times.entries()) {
      const id = s.placeOrder(T(t), customer, i === 6 ? many : [[p, i + 1]]);
      let status = "placed";
      if (i % 3 === 1 && i !== 4) { s.pay(T(10 + i), id); status = "paid"; }
      if (i === 4) { s.pay(T(20), id); s.ship(T(21), id); status = "shipped"; }
      if (i === 5) { s.cancel(T(22), id, "no longer needed"); status = "cancelled"; }
      placed.push({ id, at: T(t), status });
    }
    s.placeOrder(T(3), other, [[p, 1]]);
    h = await startQueryHarness(s.log.events);
  });
  afterAll(async () => h?.close());

  const expected = (status?: string): string[] =>
    placed.filter((o) => status === undefined || o.status === status)
      .sort((a, b) => b.at.localeCompare(a.at) || b.id.localeCompare(a.id))
      .map((o) => o.id);

  it("answers an order by id from Redis and PostgreSQL with the same bytes; 304; 404; 400", async () => {
    const id = placed[4]!.id;
    const fromRedis = await get(`${h.server.url}/v1/orders/${id}`);
    const fromPg = await get(`${h.pgOnly.url}/v1/orders/${id}`);
    expect(fromRedis.status).toBe(200);
    expect(fromPg.body.equals(fromRedis.body)).toBe(true);
    expect(fromPg.headers["etag"]).toBe(fromRedis.headers["etag"]);
    expect(JSON.parse(fromRedis.body.toString())).toMatchObject({
      id, customerId: customer, status: "shipped", totalCents: 1250, itemCount: 5,
      payment: { amountCents: 1250, method: "card", paidAt: T(20) }, shipment: { shippedAt: T(21) }, cancellation: null, placedAt: T(3), updatedAt: T(21), version: 3,
    });
    expect((await get(`${h.server.url}/v1/orders/${id}`, { "If-None-Match": String(fromRedis.headers["etag"]) })).status).toBe(304);
    expect((await getJson(`${h.server.url}/v1/orders/${crypto.randomUUID()}`)).status).toBe(404);
    expect((await getJson(`${h.server.url}/v1/orders/123`)).json.errors).toEqual([{ path: "params.id", message: "must be a UUID" }]);
    expect((await getJson(`${h.server.url}/v1/orders/${id}?x=1`)).json.errors).toEqual([{ path: "query.x", message: "Unknown field" }]);
  });

  it("gzips a big order with its precomputed gzip, also after Redis goes away", async () => {
    const id = placed[6]!.id;
    const plain = await get(`${h.server.url}/v1/orders/${id}`);
    expect(plain.body.length).toBeGreaterThan(1024);
    const gz = await get(`${h.server.url}/v1/orders/${id}`, { "Accept-Encoding": "gzip" });
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true);
    const pg = await get(`${h.pgOnly.url}/v1/orders/${id}`, { "Accept-Encoding": "gzip" });
    expect(pg.body.equals(gz.body)).toBe(true);
  });

  it("lists a customer's orders placedAt desc, ties by id desc, walking every page once, with a status filter", async () => {
    for (const status of [undefined, "paid", "placed", "cancelled"]) {
      for (const limit of [1, 2, 3, 100]) {
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const url: string = `${h.server.url}/v1/customers/${customer}/orders?limit=${limit}${status ? `&status=${status}` : ""}${cursor ? `&cursor=${cursor}` : ""}`;
          const page = await getJson(url);
          expect(page.status).toBe(200);
          seen.push(...page.json.items.map((item: Summary) => item.id));
          cursor = page.json.nextCursor;
        } while (cursor !== null);
        expect(seen, `${status} ${limit}`).toEqual(expected(status));
      }
    }
  });

  it("serves customer pages from the Redis sets with the same bytes and cursors as PostgreSQL, falling back when views are not vouched for", async () => {
    const before = { ...h.viewReads };
    for (const who of [customer, other, crypto.randomUUID()]) {
      for (const status of [undefined, "placed", "paid", "shipped", "cancelled"]) {
        for (const limit of [1, 2, 100]) {
          let cursor: string | null = null;
          do {
            const path: string = `/v1/customers/${who}/orders?limit=${limit}${status ? `&status=${status}` : ""}${cursor ? `&cursor=${cursor}` : ""}`;
            const [redis, pg] = await getBoth(h, path);
            expect(redis.status, path).toBe(200);
            expect(redis.body.toString(), path).toBe(pg.body.toString());
            cursor = JSON.parse(redis.body.toString()).nextCursor;
          } while (cursor !== null);
        }
      }
    }
    expect(h.viewReads.redis - before.redis).toBeGreaterThan(40);
    expect(h.viewReads.postgres - before.postgres).toBe(0);
    const sentinel = sentinelKey("orders", orders.version);
    await withoutSentinel(h, sentinel, async () => {
      const path = `/v1/customers/${customer}/orders?limit=2`;
      const [redis, pg] = await getBoth(h, path);
      expect(redis.body.equals(pg.body)).toBe(true);
      expect(h.viewReads.postgres - before.postgres).toBe(1);
    });
  });

  it("answers the customer-list items as prepared, an empty list for an unknown customer, and 400s", async () => {
    const page = await getJson(`${h.server.url}/v1/customers/${customer}/orders?limit=1`);
    const first = placed.find((o) => o.id === page.json.items[0].id)!;
    expect(Object.keys(page.json.items[0])).toEqual(["id", "status", "totalCents", "currency", "itemCount", "placedAt", "updatedAt"]);
    expect(page.json.items[0]).toMatchObject({ status: first.status, placedAt: first.at });
    expect((await getJson(`${h.server.url}/v1/customers/${crypto.randomUUID()}/orders`)).json).toEqual({ items: [], nextCursor: null });
    const bad = await getJson(`${h.server.url}/v1/customers/nope/orders?status=lost&limit=x&extra=1`);
    expect(bad.status).toBe(400);
    expect(bad.json.errors.map((e: { path: string }) => e.path).sort()).toEqual(["params.customerId", "query.extra", "query.limit", "query.status"]);
    const products = await getJson(`${h.server.url}/v1/products?limit=1&status=any`);
    const foreign = await getJson(`${h.server.url}/v1/customers/${customer}/orders?cursor=${products.json.nextCursor}`);
    expect(foreign.status).toBe(400);
    // A cursor of year 0000 (PostgreSQL has none), and a parameter given twice: 400 on either path.
    const yearZero = Buffer.from('["customer-orders","0000-01-01T00:00:00.000Z","00000000-0000-4000-8000-000000000000"]').toString("base64url");
    for (const url of [h.server.url, h.pgOnly.url]) {
      const answer = await getJson(`${url}/v1/customers/${customer}/orders?cursor=${yearZero}`);
      expect(answer.status, url).toBe(400);
      expect(answer.json.errors[0].path).toBe("query.cursor");
      const twice = await getJson(`${url}/v1/customers/${customer}/orders?status=paid&status=paid`);
      expect(twice.json.errors).toEqual([{ path: "query.status", message: "must be given once" }]);
    }
  });
});
