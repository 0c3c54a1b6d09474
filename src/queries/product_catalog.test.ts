import { gunzipSync, brotliDecompressSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Scenario } from "../projections/testing/scenario.ts";
import { sentinelKey } from "../shared/read_models.ts";
import { databaseAvailable, databaseSkipReason } from "../testing/db.ts";
import { redisAvailable, redisSkipReason } from "../testing/redis.ts";
import { get, getBoth, getJson, startQueryHarness, withoutSentinel, type QueryHarness } from "./test_harness.ts";

interface Product { id: string; sku: string; category: string; priceCents: number; status: string; unitsSold: number; revenueCents: number; createdAt: string; name: string }

const T = (n: number): string => new Date(Date.UTC(2026, 10, 21, 10, 0, n)).toISOString();
const skip = !databaseAvailable || !redisAvailable;

describe.skipIf(skip)(skip ? `product queries: skipped, ${!databaseAvailable ? databaseSkipReason : redisSkipReason}` : "product queries", () => {
  const s = new Scenario();
  let h: QueryHarness;
  let all: Product[];
  const ids: string[] = [];

  beforeAll(async () => {
    // Ties on purpose: pairs share createdAt, price and units sold.
    const spec: [number, string, number][] = [[1, "books", 500], [1, "books", 700], [2, "toys", 500], [3, "books", 900], [3, "toys", 100], [4, "books", 500], [5, "books-2", 300], [6, "toys", 700], [7, "books", 700]];
    for (const [t, category, price] of spec) ids.push(s.createProduct(T(t), { category, priceCents: price }));
    const big = s.createProduct(T(8), { category: "books", priceCents: 50, description: "long ".repeat(400) });
    ids.push(big);
    s.discontinue(T(9), ids[1]!);
    s.changeDetails(T(10), ids[3]!, { name: "Renamed" });
    // 12 against single digits: a sort of the counts as text would put it last.
    const sales: [number, number][] = [[0, 3], [1, 2], [3, 3], [4, 1], [5, 2], [8, 12]];
    for (const [i, quantity] of sales) s.pay(T(20 + i), s.placeOrder(T(11), crypto.randomUUID(), [[ids[i]!, quantity]]));
    const cancelled = s.placeOrder(T(12), crypto.randomUUID(), [[ids[2]!, 4]]);
    s.pay(T(30), cancelled);
    s.cancel(T(31), cancelled);
    h = await startQueryHarness(s.log.events);
    const rows = await h.db.pool.query<{ view: Buffer }>("SELECT view FROM products_v1");
    all = rows.rows.map((row) => JSON.parse(row.view.toString()) as Product);
  });
  afterAll(async () => h?.close());

  it("answers a product by id and by sku with its prepared bytes, ETag and Cache-Control", async () => {
    const id = ids[3]!;
    const row = (await h.db.pool.query<{ view: Buffer; etag: string }>("SELECT view, etag FROM products_v1 WHERE id = $1", [id])).rows[0]!;
    for (const path of [`/v1/products/${id}`, `/v1/products/${id.toUpperCase()}`, `/v1/products/by-sku/${s.products.get(id)!.sku}`]) {
      const response = await get(`${h.server.url}${path}`);
      expect(response.status).toBe(200);
      expect(response.body.equals(row.view)).toBe(true);
      expect(response.headers["etag"]).toBe(row.etag);
      expect(response.headers["cache-control"]).toBe("no-cache");
      expect(response.headers["content-type"]).toMatch(/^application\/json/);
    }
    expect(JSON.parse(row.view.toString())).toMatchObject({ name: "Renamed", unitsSold: 3, revenueCents: 2700, version: 2, updatedAt: T(10), status: "active" });
  });

  it("answers the same bytes from PostgreSQL without Redis, and when a key is missing from Redis", async () => {
    const id = ids[0]!;
    const fromRedis = await get(`${h.server.url}/v1/products/${id}`);
    const fromPg = await get(`${h.pgOnly.url}/v1/products/${id}`);
    expect(fromPg.body.equals(fromRedis.body)).toBe(true);
    expect(fromPg.headers["etag"]).toBe(fromRedis.headers["etag"]);
    const key = `product_catalog:v1:id:${ids[4]!}`;
    const kept = await h.redis.getBuffer(key);
    await h.redis.del(key);
    try {
      const missing = await get(`${h.server.url}/v1/products/${ids[4]!}`);
      expect(missing.status).toBe(200);
      expect(JSON.parse(missing.body.toString()).id).toBe(ids[4]);
      // A list page with that product: the Redis path misses its view and PostgreSQL answers the same bytes.
      for (const status of ["active", "discontinued"]) {
        const path = `/v1/products?status=${status}&sort=price_asc&limit=100`;
        expect((await get(`${h.server.url}${path}`)).body.equals((await get(`${h.pgOnly.url}${path}`)).body)).toBe(true);
      }
    } finally {
      await h.redis.set(key, kept!);
    }
  });

  it("answers 304 to a matching If-None-Match, 404 for an unknown product, 400 for a bad id or sku", async () => {
    const first = await get(`${h.server.url}/v1/products/${ids[0]!}`);
    const again = await get(`${h.server.url}/v1/products/${ids[0]!}`, { "If-None-Match": `"x", ${String(first.headers["etag"])}` });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect(again.headers["etag"]).toBe(first.headers["etag"]);
    const unknown = await getJson(`${h.server.url}/v1/products/${crypto.randomUUID()}`);
    expect(unknown.status).toBe(404);
    expect(unknown.json.type).toBe("not_found");
    expect((await getJson(`${h.pgOnly.url}/v1/products/by-sku/NOPE-1`)).status).toBe(404);
    const bad = await getJson(`${h.server.url}/v1/products/not-a-uuid`);
    expect(bad.status).toBe(400);
    expect(bad.json.errors).toEqual([{ path: "params.id", message: "must be a UUID" }]);
    expect((await getJson(`${h.server.url}/v1/products/by-sku/-bad`)).status).toBe(400);
    // by-sku without its sku is about the sku, not an id "by-sku".
    for (const path of ["/v1/products/by-sku", "/v1/products/by-sku/"]) {
      const missing = await getJson(`${h.server.url}${path}`);
      expect(missing.status, path).toBe(400);
      expect(missing.json.errors).toEqual([{ path: "params.sku", message: expect.stringContaining("by-sku/{sku}") }]);
    }
    // These reads take no query: an unknown parameter is listed with any path issue.
    const query = await getJson(`${h.server.url}/v1/products/${ids[0]!}?limit=abc&x=1`);
    expect(query.status).toBe(400);
    expect(query.json.errors).toEqual([{ path: "query.limit", message: "Unknown field" }, { path: "query.x", message: "Unknown field" }]);
    const both = await getJson(`${h.server.url}/v1/products/not-a-uuid?x=1`);
    expect(both.json.errors).toEqual([{ path: "params.id", message: "must be a UUID" }, { path: "query.x", message: "Unknown field" }]);
    expect((await getJson(`${h.server.url}/v1/products/by-sku/NOPE-1?x=1`)).status).toBe(400);
  });

  it("gzips bodies over 1 KiB with the precomputed gzip (Redis and PostgreSQL), br on the fly, identity otherwise", async () => {
    const big = ids[9]!;
    const identity = await get(`${h.server.url}/v1/products/${big}`);
    expect(identity.headers["content-encoding"]).toBeUndefined();
    expect(identity.body.length).toBeGreaterThan(1024);
    for (const url of [h.server.url, h.pgOnly.url]) {
      const gz = await get(`${url}/v1/products/${big}`, { "Accept-Encoding": "gzip, br" });
      expect(gz.headers["content-encoding"]).toBe("gzip");
      expect(gz.headers["vary"]).toMatch(/Accept-Encoding/i);
      expect(gunzipSync(gz.body).equals(identity.body)).toBe(true);
      // Another representation, another strong etag (RFC 9110): the coding inside the quotes.
      expect(gz.headers["etag"]).toBe(String(identity.headers["etag"]).replace(/"$/, '-gzip"'));
      // Revalidating with either etag of the same bytes answers 304, with the etag of the coding asked for.
      const revalidated = await get(`${url}/v1/products/${big}`, { "Accept-Encoding": "gzip", "If-None-Match": String(identity.headers["etag"]) });
      expect(revalidated.status).toBe(304);
      expect(revalidated.headers["etag"]).toBe(gz.headers["etag"]);
      expect((await get(`${url}/v1/products/${big}`, { "If-None-Match": String(gz.headers["etag"]) })).status).toBe(304);
    }
    const br = await get(`${h.server.url}/v1/products/${big}`, { "Accept-Encoding": "br" });
    expect(br.headers["content-encoding"]).toBe("br");
    expect(br.headers["etag"]).toBe(String(identity.headers["etag"]).replace(/"$/, '-br"'));
    expect(brotliDecompressSync(br.body).equals(identity.body)).toBe(true);
    const refused = await get(`${h.server.url}/v1/products/${big}`, { "Accept-Encoding": "gzip;q=0" });
    expect(refused.headers["content-encoding"]).toBeUndefined();
    const small = await get(`${h.server.url}/v1/products/${ids[0]!}`, { "Accept-Encoding": "gzip" });
    expect(small.headers["content-encoding"]).toBeUndefined();
    const list = await get(`${h.server.url}/v1/products?status=any&limit=100`, { "Accept-Encoding": "gzip" });
    expect(list.headers["content-encoding"]).toBe("gzip");
    expect(JSON.parse(gunzipSync(list.body).toString()).items).toHaveLength(10);
  });

  const sorts: Record<string, (a: Product, b: Product) => number> = {
    newest: (a, b) => b.createdAt.localeCompare(a.createdAt) || a.id.localeCompare(b.id),
    price_asc: (a, b) => a.priceCents - b.priceCents || a.id.localeCompare(b.id),
    price_desc: (a, b) => b.priceCents - a.priceCents || a.id.localeCompare(b.id),
    best_selling: (a, b) => b.unitsSold - a.unitsSold || a.id.localeCompare(b.id),
  };

  async function walk(query: string, limit: number): Promise<Product[]> {
    const seen: Product[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 50; page++) {
      const url: string = `${h.server.url}/v1/products?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`;
      const response = await getJson(url);
      expect(response.status).toBe(200);
      expect(response.json.items.length).toBeLessThanOrEqual(limit);
      seen.push(...response.json.items);
      cursor = response.json.nextCursor;
      if (cursor === null) return seen;
    }
    throw new Error("too many pages");
  }

  it.each(Object.keys(sorts))("walks every page of sort %s exactly once, in order, for each filter", async (sort) => {
    const filters: [string, (p: Product) => boolean][] = [
      ["", (p) => p.status === "active"],
      ["status=any", () => true],
      ["status=discontinued", (p) => p.status === "discontinued"],
      ["category=books", (p) => p.status === "active" && p.category === "books"],
      ["category=books&status=any&minPriceCents=500&maxPriceCents=700", (p) => p.category === "books" && p.priceCents >= 500 && p.priceCents <= 700],
    ];
    for (const [filter, keep] of filters) {
      const expected = all.filter(keep).sort(sorts[sort]).map((p) => p.id);
      for (const limit of [1, 2, 100]) {
        const got = (await walk(`sort=${sort}&${filter}`, limit)).map((p) => p.id);
        expect(got, `${sort} ${filter} limit ${limit}`).toEqual(expected);
      }
    }
  });

  it("serves list pages from the Redis list sets with the same bytes and cursors as PostgreSQL, and falls back when they are not vouched for", async () => {
    const queries = ["", "status=discontinued", "category=books", "category=toys&status=discontinued", "category=nothing-here"];
    const before = { ...h.viewReads };
    for (const sort of Object.keys(sorts)) {
      for (const query of queries) {
        for (const limit of [1, 3, 100]) {
          let cursor: string | null = null;
          for (let page = 0; page < 50; page++) {
            const path: string = `/v1/products?sort=${sort}&limit=${limit}${query ? `&${query}` : ""}${cursor ? `&cursor=${cursor}` : ""}`;
            const [redis, pg] = await getBoth(h, path);
            expect(redis.status, path).toBe(200);
            expect(redis.body.toString(), path).toBe(pg.body.toString());
            cursor = JSON.parse(redis.body.toString()).nextCursor;
            if (cursor === null) break;
          }
        }
      }
    }
    expect(h.viewReads.redis - before.redis).toBeGreaterThan(60);
    expect(h.viewReads.postgres - before.postgres).toBe(0);
    // Views not vouched for (a restore running, writes failed): PostgreSQL answers, the same bytes.
    const sentinel = sentinelKey("product_catalog", 1);
    await withoutSentinel(h, sentinel, async () => {
      const path = "/v1/products?sort=price_asc&category=books";
      const [redis, pg] = await getBoth(h, path);
      expect(redis.body.equals(pg.body)).toBe(true);
      expect(h.viewReads.postgres - before.postgres).toBe(1);
    });
  });

  it("defaults to newest, 20 items, active only, and answers list bytes as prepared views joined", async () => {
    const response = await get(`${h.server.url}/v1/products`);
    const body = JSON.parse(response.body.toString());
    expect(body.nextCursor).toBeNull();
    expect(body.items.map((p: Product) => p.id)).toEqual(all.filter((p) => p.status === "active").sort(sorts["newest"]).map((p) => p.id));
    expect(response.headers["etag"]).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const again = await get(`${h.server.url}/v1/products`, { "If-None-Match": String(response.headers["etag"]) });
    expect(again.status).toBe(304);
  });

  it("rejects bad list queries with every issue, tampered and foreign cursors with 400", async () => {
    const bad = await getJson(`${h.server.url}/v1/products?limit=0&sort=cheap&minPriceCents=-1&colour=red`);
    expect(bad.status).toBe(400);
    expect(bad.json.errors.map((e: { path: string }) => e.path).sort()).toEqual(["query.colour", "query.limit", "query.minPriceCents", "query.sort"]);
    expect((await getJson(`${h.server.url}/v1/products?limit=101`)).status).toBe(400);
    expect((await getJson(`${h.server.url}/v1/products?minPriceCents=10&maxPriceCents=5`)).json.errors).toEqual([{ path: "query.maxPriceCents", message: "must be at least minPriceCents" }]);
    const twice = await getJson(`${h.server.url}/v1/products?limit=1&limit=2&sort=newest&sort=newest`);
    expect(twice.status).toBe(400);
    expect(twice.json.errors).toEqual([{ path: "query.limit", message: "must be given once" }, { path: "query.sort", message: "must be given once" }]);
    // One issue for a repeated parameter, whatever its first value; a parameter named __proto__ is an unknown one.
    expect((await getJson(`${h.server.url}/v1/products?limit=abc&limit=2&colour=a&colour=b`)).json.errors).toEqual([
      { path: "query.limit", message: "must be given once" },
      { path: "query.colour", message: "must be given once" },
    ]);
    expect((await getJson(`${h.server.url}/v1/products?__proto__=x`)).json.errors).toEqual([{ path: "query.__proto__", message: "Unknown field" }]);
    // A cursor of year 0000 (PostgreSQL has none): a 400 from either path, not the store's error.
    const yearZero = Buffer.from('["products:newest","0000-01-01T00:00:00.000Z","00000000-0000-4000-8000-000000000000"]').toString("base64url");
    for (const url of [h.server.url, h.pgOnly.url]) {
      for (const filter of ["", "&status=any", "&minPriceCents=0"]) {
        const answer = await getJson(`${url}/v1/products?sort=newest${filter}&cursor=${yearZero}`);
        expect(answer.status, `${url} ${filter}`).toBe(400);
        expect(answer.json.errors[0].path).toBe("query.cursor");
      }
    }
    const page = await getJson(`${h.server.url}/v1/products?limit=1&sort=price_asc`);
    const cursor: string = page.json.nextCursor;
    const foreign = await getJson(`${h.server.url}/v1/products?limit=1&sort=newest&cursor=${cursor}`);
    expect(foreign.status).toBe(400);
    expect(foreign.json.errors[0].path).toBe("query.cursor");
    const tampered = [
      "!!!", "abc", Buffer.from('["products:price_asc","x","y"]').toString("base64url"),
      Buffer.from('["products:price_asc",1e400,"00000000-0000-4000-8000-000000000000"]').toString("base64url"),
      Buffer.from('{"a":1}').toString("base64url"), cursor.slice(0, -3), `${cursor}AAAA`,
    ];
    for (const t of tampered) expect((await getJson(`${h.server.url}/v1/products?sort=price_asc&cursor=${encodeURIComponent(t)}`)).status, t).toBe(400);
    expect((await getJson(`${h.server.url}/v1/customers/${crypto.randomUUID()}/orders?cursor=${cursor}`)).status).toBe(400);
  });

  it("answers best sellers (unitsSold > 0, desc, ties by productId asc) identically from Redis and PostgreSQL", async () => {
    const expected = all
      .filter((p) => p.category === "books" && p.unitsSold > 0)
      .sort((a, b) => b.unitsSold - a.unitsSold || a.id.localeCompare(b.id))
      .map((p) => ({ productId: p.id, sku: p.sku, name: p.name, unitsSold: p.unitsSold, revenueCents: p.revenueCents }));
    expect(expected.length).toBeGreaterThanOrEqual(4);
    const fromRedis = await get(`${h.server.url}/v1/categories/books/best-sellers`);
    const fromPg = await get(`${h.pgOnly.url}/v1/categories/books/best-sellers`);
    expect(JSON.parse(fromRedis.body.toString())).toEqual({ items: expected });
    expect(fromPg.body.equals(fromRedis.body)).toBe(true);
    expect(fromPg.headers["etag"]).toBe(fromRedis.headers["etag"]);
    const limited = await getJson(`${h.server.url}/v1/categories/books/best-sellers?limit=2`);
    expect(limited.json.items).toEqual(expected.slice(0, 2));
    expect((await getJson(`${h.server.url}/v1/categories/toys/best-sellers`)).json.items.map((i: { productId: string }) => i.productId)).toEqual([ids[4]]);
    expect((await getJson(`${h.server.url}/v1/categories/empty/best-sellers`)).json).toEqual({ items: [] });
    expect((await getJson(`${h.server.url}/v1/categories/Bad_Cat/best-sellers?limit=500`)).json.errors.map((e: { path: string }) => e.path)).toEqual(["params.category", "query.limit"]);
  });

  it("lists a malformed X-Consistent-With with every other issue of the request, on every read route", async () => {
    const bad = { "X-Consistent-With": "twelve" };
    const paths = async (path: string): Promise<string[]> => {
      const answer = await getJson(`${h.server.url}${path}`, bad);
      expect(answer.status, path).toBe(400);
      return answer.json.errors.map((e: { path: string }) => e.path);
    };
    expect(await paths("/v1/products/not-a-uuid?x=1")).toEqual(["params.id", "query.x", "headers.X-Consistent-With"]);
    expect(await paths("/v1/products/by-sku/-bad?x=1")).toEqual(["params.sku", "query.x", "headers.X-Consistent-With"]);
    expect(await paths("/v1/products?limit=0&sort=up")).toEqual(["query.sort", "query.limit", "headers.X-Consistent-With"]);
    expect(await paths("/v1/categories/Bad_Cat/best-sellers?limit=500")).toEqual(["params.category", "query.limit", "headers.X-Consistent-With"]);
    expect(await paths("/v1/orders/not-a-uuid?x=1")).toEqual(["params.id", "query.x", "headers.X-Consistent-With"]);
    expect(await paths(`/v1/customers/nobody/orders?limit=0`)).toEqual(["params.customerId", "query.limit", "headers.X-Consistent-With"]);
    expect(await paths("/v1/stats/daily-sales?from=2026-13-01&to=x&z=1")).toEqual(expect.arrayContaining(["query.from", "query.to", "query.z", "headers.X-Consistent-With"]));
    // A request with nothing else wrong: the header alone.
    expect(await paths(`/v1/products?limit=1`)).toEqual(["headers.X-Consistent-With"]);
  });

  it("waits for X-Consistent-With on the projection it reads; 400 when malformed, 503 with Retry-After when not reached", async () => {
    h.progress.calls.length = 0;
    const ok = await get(`${h.server.url}/v1/products/${ids[0]!}`, { "X-Consistent-With": "12-34" });
    expect(ok.status).toBe(200);
    expect(h.progress.calls).toEqual([{ projections: ["product_catalog"], position: { commit: 12n, prepare: 34n }, timeoutMs: 50 }]);
    const malformed = await getJson(`${h.server.url}/v1/products/${ids[0]!}`, { "X-Consistent-With": "twelve" });
    expect(malformed.status).toBe(400);
    expect(malformed.json.errors.map((e: { path: string }) => e.path)).toEqual(["headers.X-Consistent-With"]);
    h.progress.reached = false;
    try {
      const late = await getJson(`${h.server.url}/v1/products?limit=1`, { "X-Consistent-With": "12-34" });
      expect(late.status).toBe(503);
      expect(late.headers["retry-after"]).toBe("1");
      expect(late.json.type).toBe("unavailable");
    } finally {
      h.progress.reached = true;
    }
  });
});
