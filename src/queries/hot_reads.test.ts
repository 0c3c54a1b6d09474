import http from "node:http";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../http/app.ts";
import { sequentialIds } from "../http/request_id.ts";
import { startServer, type RunningServer } from "../http/server.ts";
import { projections } from "../projections/all.ts";
import { createReadTables, projectEvents } from "../projections/testing/project.ts";
import { Scenario } from "../projections/testing/scenario.ts";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../testing/db.ts";
import { createTestRedis, redisAvailable, redisSkipReason } from "../testing/redis.ts";
import { createHotReads } from "./hot_reads.ts";
import { TestProgress } from "./test_harness.ts";
import { queryRoutes } from "./routes.ts";
import { ViewCache } from "./view_cache.ts";

interface Answer {
  status: number;
  /** Header names and values in wire order, without Date and X-Request-Id (compared apart). */
  headers: string[];
  requestId: string | undefined;
  body: Buffer;
}

function rawGet(url: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        const raw = response.rawHeaders;
        const kept: string[] = [];
        for (let i = 0; i < raw.length; i += 2) if (!/^(date|x-request-id)$/i.test(raw[i]!)) kept.push(`${raw[i]}: ${raw[i + 1]}`);
        resolve({ status: response.statusCode ?? 0, headers: kept, requestId: response.headers["x-request-id"] as string | undefined, body: Buffer.concat(chunks) });
      });
      response.on("error", reject);
    });
    request.on("error", reject);
  });
}

const T = (n: number): string => new Date(Date.UTC(2026, 10, 21, 10, 0, n)).toISOString();
const skip = !databaseAvailable || !redisAvailable;

describe.skipIf(skip)(skip ? `hot reads fast path: skipped, ${!databaseAvailable ? databaseSkipReason : redisSkipReason}` : "hot reads fast path", () => {
  const s = new Scenario();
  let db: TestDatabase;
  let redis: ReturnType<typeof createTestRedis>;
  let cache: ViewCache;
  let viaKoa: RunningServer;
  let viaFastPath: RunningServer;
  const answered: string[] = [];
  let small: string;
  let big: string;
  let order: string;

  beforeAll(async () => {
    small = s.createProduct(T(1), { category: "books", priceCents: 500 });
    big = s.createProduct(T(2), { category: "books", priceCents: 50, description: "long ".repeat(400) });
    order = s.placeOrder(T(3), crypto.randomUUID(), [[small, 2], [big, 1]]);
    s.pay(T(4), order);
    db = await createTestDatabase({ poolSize: 5 });
    redis = createTestRedis();
    await createReadTables(db.pool, projections);
    await projectEvents({ pool: db.pool, redis: redis.redis, definitions: projections, events: s.log.events });
    cache = new ViewCache({ url: redis.url, keyPrefix: redis.prefix, maxBytes: 1024 * 1024 });
    await cache.start();
    const versions = new Map(projections.map((definition) => [definition.name, definition.version]));
    const activeVersions = { get: (name: string) => versions.get(name) ?? 1 };
    const deps = { pool: db.pool, redis: redis.redis, viewCache: cache, progress: new TestProgress(), activeVersions, consistencyWaitMs: 50 };
    const app = createApp({ tokens: [], logger: pino({ level: "silent" }), routes: [queryRoutes(deps)], ready: async () => true });
    viaKoa = await startServer(app, { port: 0, host: "127.0.0.1", shutdownTimeoutMs: 1000 });
    const fastPath = createHotReads({ viewCache: cache, redis: redis.redis, activeVersions, newRequestId: sequentialIds(), record: (method, route, status) => answered.push(`${method} ${route} ${status}`) });
    viaFastPath = await startServer(app, { port: 0, host: "127.0.0.1", shutdownTimeoutMs: 1000, fastPath });
  });

  afterAll(async () => {
    await viaKoa?.close();
    await viaFastPath?.close();
    await cache?.close();
    await redis?.cleanup();
    await db?.drop();
  });

  /** The same request to both servers (after one through koa that brings the views into the copy). */
  async function both(path: string, headers: Record<string, string> = {}): Promise<{ koa: Answer; fast: Answer; fastPathAnswered: boolean }> {
    await rawGet(`${viaKoa.url}${path}`, headers);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const koa = await rawGet(`${viaKoa.url}${path}`, headers);
    const before = answered.length;
    const fast = await rawGet(`${viaFastPath.url}${path}`, headers);
    return { koa, fast, fastPathAnswered: answered.length > before };
  }

  it("answers exactly as the koa routes do: status, headers in order, bytes", async () => {
    const etagOf = async (path: string) => (await rawGet(`${viaKoa.url}${path}`, {})).headers.find((h) => h.startsWith("ETag: "))!.slice(6);
    const sku = s.products.get(small)!.sku;
    const cases: [string, Record<string, string>, boolean][] = [
      [`/v1/products/${small}`, {}, true],
      [`/v1/products/${big}`, {}, true],
      [`/v1/products/${big}`, { "accept-encoding": "gzip, deflate, br" }, true],
      [`/v1/products/${big}`, { "accept-encoding": "gzip;q=0, identity" }, true],
      [`/v1/products/by-sku/${sku}`, {}, true],
      [`/v1/orders/${order}`, { "accept-encoding": "gzip" }, true],
      [`/v1/products/${small}`, { "if-none-match": await etagOf(`/v1/products/${small}`) }, true],
      [`/v1/products/${small}`, { "if-none-match": `"other", ${await etagOf(`/v1/products/${small}`)}` }, true],
      [`/v1/products/${small}`, { "if-none-match": `"other"` }, true],
      [`/v1/orders/${order}`, { "if-none-match": "*" }, true],
      [`/v1/products/${small}`, { "x-request-id": "client-chosen-id" }, true],
      // Left to koa: a body to compress now (br only), a query string, an upper-case id,
      // a position to wait for, an unknown id (404), a bad id (400).
      [`/v1/products/${big}`, { "accept-encoding": "br" }, false],
      [`/v1/products/${small}?x=1`, {}, false],
      [`/v1/products/${small.toUpperCase()}`, {}, false],
      [`/v1/products/${small}`, { "x-consistent-with": "0-0" }, false],
      [`/v1/products/${crypto.randomUUID()}`, {}, false],
      [`/v1/orders/not-a-uuid`, {}, false],
    ];
    for (const [path, headers, fast] of cases) {
      const result = await both(path, headers);
      expect({ path, headers, fastPathAnswered: result.fastPathAnswered }).toEqual({ path, headers, fastPathAnswered: fast });
      expect({ path, headers, status: result.fast.status, lines: result.fast.headers }).toEqual({ path, headers, status: result.koa.status, lines: result.koa.headers });
      expect(result.fast.body.equals(result.koa.body)).toBe(true);
      expect(result.fast.requestId).toMatch(headers["x-request-id"] ? /^client-chosen-id$/ : /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
    expect(answered).toContain(`GET /v1/products/:id 200`);
    expect(answered).toContain(`GET /v1/products/:id 304`);
    expect(answered).toContain(`GET /v1/products/by-sku/:sku 200`);
    expect(answered).toContain(`GET /v1/orders/:id 200`);
  });

  it("leaves a view it cannot send to koa (a stored etag with a control character): the same problem answer, no crash", async () => {
    const key = `product_catalog:v1:id:${small}`;
    const framed = (await redis.redis.getBuffer(key))!;
    await redis.redis.set(key, Buffer.concat([Buffer.from('"bad\u0001etag"\n'), Buffer.from("{}")]));
    try {
      const result = await both(`/v1/products/${small}`);
      expect(result.fastPathAnswered).toBe(false);
      expect(result.koa.status).toBe(500);
      expect(result.fast.status).toBe(500);
      expect(result.fast.headers).toEqual(result.koa.headers);
    } finally {
      await redis.redis.set(key, framed);
    }
  });

  it("sees a change at once: the copy drops a view its key's writer changed, and the next answer is the new one", async () => {
    const path = `/v1/products/${small}`;
    const first = await both(path);
    expect(first.fastPathAnswered).toBe(true);
    const key = `product_catalog:v1:id:${small}`;
    const framed = (await redis.redis.getBuffer(key))!;
    const changed = Buffer.concat([Buffer.from('"changed-etag"\n'), Buffer.from('{"changed":true}')]);
    await redis.redis.set(key, changed);
    try {
      // Until the invalidation arrives the fast path may still answer the old bytes; then koa
      // (a miss) answers the new ones, and the fast path answers them from the refilled copy.
      const deadline = performance.now() + 2000;
      let answer = await rawGet(`${viaFastPath.url}${path}`, {});
      while (!answer.body.equals(Buffer.from('{"changed":true}')) && performance.now() < deadline) answer = await rawGet(`${viaFastPath.url}${path}`, {});
      expect(answer.body.toString()).toBe('{"changed":true}');
      const again = await both(path);
      expect(again.fastPathAnswered).toBe(true);
      expect(again.fast.body.toString()).toBe('{"changed":true}');
    } finally {
      await redis.redis.set(key, framed);
    }
  });
});
