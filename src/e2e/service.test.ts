/**
 * End to end through the composition root: commands append, the real projection runner
 * (piscina workers) builds the read models, queries answer — against real PostgreSQL and Redis.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../config.ts";
import { startService, type Service } from "../main.ts";
import { waitUntil } from "../projections/runner/testing/fixtures.ts";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../testing/db.ts";
import { createTestRedis, redisAvailable, redisSkipReason } from "../testing/redis.ts";

const TOKEN = "e2e-token";
const STALE_ID = "7d1f6c2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f";
const available = databaseAvailable && redisAvailable;

describe.skipIf(!available)(`service end to end (${available ? "PostgreSQL + Redis" : `${databaseSkipReason}; ${redisSkipReason}`})`, () => {
  let db: TestDatabase;
  let redis: ReturnType<typeof createTestRedis>;
  let service: Service;

  async function command(path: string, body: unknown): Promise<{ status: number; body: { id: string; version: number; position: string } }> {
    const response = await fetch(`${service.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as { id: string; version: number; position: string } };
  }

  async function read<T>(path: string, position?: string): Promise<{ status: number; body: T; headers: Headers }> {
    const response = await fetch(`${service.url}${path}`, { headers: position ? { "x-consistent-with": position } : {} });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as T, headers: response.headers };
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    redis = createTestRedis();
    const config = loadConfig({
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      PORT: "0",
      API_TOKENS: `${TOKEN}:commands+operator`,
      LOG_LEVEL: "silent",
      PROJECTION_WORKERS: "1",
      // Reads wait for their X-Consistent-With position up to this long: the default 2 s ran out
      // in a full suite on a slow hour of a loaded 2-core machine (the tests check what the
      // read answers, not how soon).
      CONSISTENCY_WAIT_MS: "15000",
    });
    // Views left in the same Redis by an earlier database must not leak into this one.
    await redis.redis.zadd("product_catalog:v1:best:e2e-stale", -5, crypto.randomUUID());
    await redis.redis.set(`product_catalog:v1:id:${STALE_ID}`, '"etag"\n{"stale":true}');
    service = await startService(config, { redisKeyPrefix: redis.prefix });
    // Every projection led and running before the first command (its worker threads load TypeScript first).
    await waitUntil(async () => {
      const answer = await fetch(`${service!.url}/v1/projections`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const items = ((await answer.json()) as { items: { status: string }[] }).items;
      return items.length > 0 && items.every((item) => item.status === "running");
    }, 60_000, "every projection running");
  }, 90_000);
  afterAll(async () => {
    await service?.stop();
    await redis?.cleanup();
    await db?.drop();
  });

  it("reads its own writes with X-Consistent-With, every time", async () => {
    const created = await command("/v1/products", { sku: "E2E-RYW", name: "Read your writes", category: "e2e", priceCents: 100 });
    expect(created.status).toBe(201);
    for (let price = 101; price <= 130; price++) {
      const changed = await command(`/v1/products/${created.body.id}/price`, { priceCents: price });
      expect(changed.status).toBe(200);
      const product = await read<{ priceCents: number; version: number }>(`/v1/products/${created.body.id}`, changed.body.position);
      expect(product.status).toBe(200);
      expect(product.body.priceCents).toBe(price);
      expect(product.body.version).toBe(changed.body.version);
    }
  });

  it("serves repeated product reads from memory and sees each change without X-Consistent-With", async () => {
    const created = await command("/v1/products", { sku: "E2E-CACHE", name: "Cached", category: "e2e", priceCents: 100 });
    expect(created.status).toBe(201);
    const path = `/v1/products/${created.body.id}`;
    expect((await read<{ priceCents: number }>(path, created.body.position)).body.priceCents).toBe(100);
    const memoryReads = async (): Promise<number> => {
      const text = await (await fetch(`${service.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
      return Number(/^view_reads_total\{source="memory"\} (\d+)/m.exec(text)?.[1] ?? 0);
    };
    const before = await memoryReads();
    for (let i = 0; i < 5; i++) expect((await read<{ priceCents: number }>(path)).status).toBe(200);
    expect(await memoryReads()).toBeGreaterThan(before);
    // Each change reaches plain reads (the in-process copy is dropped by Redis' invalidation).
    for (const priceCents of [200, 300, 400]) {
      expect((await command(`${path}/price`, { priceCents })).status).toBe(200);
      const until = performance.now() + 3000;
      let seen = 0;
      while (seen !== priceCents && performance.now() < until) seen = (await read<{ priceCents: number }>(path)).body.priceCents;
      expect(seen).toBe(priceCents);
    }
  });

  it("an order's life shows in products, orders, customer lists, best sellers and daily sales", async () => {
    const a = await command("/v1/products", { sku: "E2E-A", name: "Alpha", category: "e2e-sales", priceCents: 250 });
    const b = await command("/v1/products", { sku: "E2E-B", name: "Beta", category: "e2e-sales", priceCents: 1000, currency: "EUR" });
    const customerId = crypto.randomUUID();
    const placed = await command("/v1/orders", { customerId, lines: [{ productId: a.body.id, quantity: 4 }, { productId: b.body.id, quantity: 1 }] });
    expect(placed.status).toBe(201);
    const paid = await command(`/v1/orders/${placed.body.id}/pay`, { paymentId: crypto.randomUUID(), amountCents: 2000, method: "card" });
    expect(paid.status).toBe(200);

    const product = await read<{ unitsSold: number; revenueCents: number }>(`/v1/products/${a.body.id}`, paid.body.position);
    expect(product.body).toMatchObject({ unitsSold: 4, revenueCents: 1000 });
    const order = await read<{ status: string; totalCents: number; payment: { amountCents: number } }>(`/v1/orders/${placed.body.id}`, paid.body.position);
    expect(order.body).toMatchObject({ status: "paid", totalCents: 2000, payment: { amountCents: 2000 } });
    const list = await read<{ items: Array<{ id: string; status: string }> }>(`/v1/customers/${customerId}/orders`, paid.body.position);
    expect(list.body.items).toEqual([expect.objectContaining({ id: placed.body.id, status: "paid" })]);
    const best = await read<{ items: Array<{ productId: string; unitsSold: number }> }>("/v1/categories/e2e-sales/best-sellers", paid.body.position);
    expect(best.body.items.map((item) => [item.productId, item.unitsSold])).toEqual([
      [a.body.id, 4],
      [b.body.id, 1],
    ]);
    const today = new Date().toISOString().slice(0, 10);
    const sales = await read<{ items: Array<{ category: string; orders: number; units: number; revenueCents: number }> }>(
      `/v1/stats/daily-sales?from=${today}&to=${today}&category=e2e-sales`,
      paid.body.position,
    );
    expect(sales.body.items).toEqual([{ date: today, category: "e2e-sales", currency: "EUR", orders: 1, units: 5, revenueCents: 2000 }]);

    const cancelled = await command(`/v1/orders/${placed.body.id}/cancel`, { reason: "changed mind" });
    expect(cancelled.status).toBe(200);
    const after = await read<{ unitsSold: number; revenueCents: number }>(`/v1/products/${a.body.id}`, cancelled.body.position);
    expect(after.body).toMatchObject({ unitsSold: 0, revenueCents: 0 });
    const salesAfter = await read<{ items: unknown[] }>(`/v1/stats/daily-sales?from=${today}&to=${today}&category=e2e-sales`, cancelled.body.position);
    expect(salesAfter.body.items).toEqual([]);
    const bestAfter = await read<{ items: unknown[] }>("/v1/categories/e2e-sales/best-sellers", cancelled.body.position);
    expect(bestAfter.body.items).toEqual([]);

    // Reads cache a day's joined items (per category and for all); the live projection's next write to the day drops them.
    type Sales = { items: Array<{ category: string; orders: number; units: number; revenueCents: number }> };
    const payOrder = async (lines: { productId: string; quantity: number }[], amountCents: number): Promise<string> => {
      const order = await command("/v1/orders", { customerId, lines });
      const payment = await command(`/v1/orders/${order.body.id}/pay`, { paymentId: crypto.randomUUID(), amountCents, method: "card" });
      expect(payment.status).toBe(200);
      return payment.body.position;
    };
    const salesNow = async (position: string): Promise<unknown[]> => {
      const one = await read<Sales>(`/v1/stats/daily-sales?from=${today}&to=${today}&category=e2e-sales`, position);
      const all = await read<Sales>(`/v1/stats/daily-sales?from=${today}&to=${today}`, position);
      expect(all.body.items.filter((item) => item.category === "e2e-sales")).toEqual(one.body.items);
      return one.body.items;
    };
    expect(await salesNow(await payOrder([{ productId: b.body.id, quantity: 2 }], 2000))).toEqual([{ date: today, category: "e2e-sales", currency: "EUR", orders: 1, units: 2, revenueCents: 2000 }]);
    expect(await salesNow(await payOrder([{ productId: a.body.id, quantity: 4 }], 1000))).toEqual([{ date: today, category: "e2e-sales", currency: "EUR", orders: 2, units: 6, revenueCents: 3000 }]);
  });

  it("serves a valid OpenAPI 3.1 document covering every contract route", async () => {
    const doc = await read<{ openapi: string; paths: Record<string, Record<string, unknown>> }>("/openapi.json");
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe("3.1.0");
    const result = await new Validator().validate(doc.body as unknown as Parameters<Validator["validate"]>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    for (const path of [
      "/v1/products", "/v1/products/{id}/price", "/v1/products/{id}/details", "/v1/products/{id}/stock", "/v1/products/{id}/discontinue",
      "/v1/orders", "/v1/orders/{id}/pay", "/v1/orders/{id}/ship", "/v1/orders/{id}/cancel",
      "/v1/products/{id}", "/v1/products/by-sku/{sku}", "/v1/categories/{category}/best-sellers", "/v1/orders/{id}",
      "/v1/customers/{customerId}/orders", "/v1/stats/daily-sales", "/v1/projections", "/metrics", "/openapi.json", "/healthz", "/readyz",
    ]) {
      expect(doc.body.paths, path).toHaveProperty([path]);
    }
    // Routes behind a scope document 401 and 403.
    const responses = (path: string, method: string) => Object.keys((doc.body.paths[path]![method] as { responses: Record<string, unknown> }).responses);
    expect(responses("/v1/projections", "get")).toEqual(expect.arrayContaining(["200", "401", "403"]));
    expect(responses("/v1/products", "post")).toEqual(expect.arrayContaining(["201", "400", "401", "403", "409"]));
    expect(responses("/v1/projections", "get")).toContain("400");
    // A body is required only where {} does not fit: an absent one reads as {}.
    const bodyRequired = (path: string) => (doc.body.paths[path]!["post"] as { requestBody: { required: boolean } }).requestBody.required;
    expect([bodyRequired("/v1/products"), bodyRequired("/v1/orders/{id}/pay")]).toEqual([true, true]);
    expect([bodyRequired("/v1/products/{id}/discontinue"), bodyRequired("/v1/orders/{id}/cancel"), bodyRequired("/v1/projections/{name}/replay")]).toEqual([false, false, false]);
    // Numeric query parameters read as the integers they stand for, with their ranges and defaults; a query's 503 names Retry-After.
    const parameter = (path: string, name: string) => (doc.body.paths[path]!["get"] as { parameters: { name: string; schema: Record<string, unknown> }[] }).parameters.find((p) => p.name === name)?.schema;
    expect(parameter("/v1/products", "limit")).toMatchObject({ type: "integer", minimum: 1, maximum: 100, default: 20 });
    expect(parameter("/v1/categories/{category}/best-sellers", "limit")).toMatchObject({ type: "integer", default: 10 });
    expect(parameter("/v1/products", "minPriceCents")).toMatchObject({ type: "integer", minimum: 0 });
    expect(parameter("/v1/products", "minPriceCents")).not.toHaveProperty("default");
    expect(doc.body.paths["/v1/orders/{id}"]!["get"]).toMatchObject({ responses: { 503: { headers: { "Retry-After": {} } } } });
    // Served like a read: ETag, 304, compressed when accepted.
    const etag = doc.headers.get("etag");
    expect(etag).toMatch(/^"/);
    expect((await fetch(`${service.url}/openapi.json`, { headers: { "if-none-match": etag! } })).status).toBe(304);
  });

  it("starts a new read-model version with a clean Redis key space", async () => {
    const created = await command("/v1/products", { sku: "E2E-CLEAN", name: "Clean", category: "e2e-clean", priceCents: 1 });
    const best = await read<{ items: unknown[] }>("/v1/categories/e2e-stale/best-sellers", created.body.position);
    expect(best.body.items).toEqual([]);
    expect((await read(`/v1/products/${STALE_ID}`, created.body.position)).status).toBe(404);
  });

  it("exposes Prometheus metrics and projection status", async () => {
    await read("/v1/products/00000000-0000-4000-8000-000000000000");
    const metrics = await fetch(`${service.url}/metrics`);
    const text = await metrics.text();
    expect(metrics.status).toBe(200);
    for (const name of ["http_request_duration_seconds", "projection_lag_events", "projection_lag_seconds", "projection_events_done", "pg_pool_connections", "view_reads_total"]) expect(text).toContain(name);
    const sample = (line: string): number => Number(text.split("\n").find((candidate) => candidate.startsWith(line))?.slice(line.length).trim());
    // The in-process view cache (on with Redis): what it holds, which counts in the process's RSS.
    expect(sample("view_cache_bytes ")).toBeGreaterThanOrEqual(0);
    expect(sample("view_cache_entries ")).toBeGreaterThanOrEqual(0);
    // Commands earlier in this file were projected: events consumed counted, no lag (in events or seconds).
    expect(sample('projection_events_done{projection="orders"}')).toBeGreaterThan(0);
    expect(sample('projection_lag_seconds{projection="orders"}')).toBe(0);
    // This process leads every projection; those with Redis views report them complete.
    await waitUntilMetric(`${service.url}/metrics`, 'projection_views_ready{projection="product_catalog"} 1');
    await waitUntilMetric(`${service.url}/metrics`, 'projection_views_ready{projection="orders"} 1');
    const status = await fetch(`${service.url}/v1/projections`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const body = (await status.json()) as { items: Array<{ name: string }> };
    expect(body.items.map((item) => item.name).sort()).toEqual(["daily_sales", "orders", "product_catalog"]);
    // It takes no query parameters.
    const misspelt = await fetch(`${service.url}/v1/projections?nmae=orders`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(misspelt.status).toBe(400);
    expect(((await misspelt.json()) as { errors: Array<{ path: string }> }).errors.map((issue) => issue.path)).toEqual(["query.nmae"]);
  });

  it("refuses a replay request with a body that is not empty JSON, before starting anything", async () => {
    const replay = (headers: Record<string, string>, body?: string, query = "") =>
      fetch(`${service.url}/v1/projections/daily_sales/replay${query}`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, ...headers }, ...(body === undefined ? {} : { body }) });
    expect((await replay({ "content-type": "text/plain" }, "hello")).status).toBe(415);
    const invalid = await replay({ "content-type": "application/json" }, "not json");
    expect(invalid.status).toBe(400);
    const fields = await replay({ "content-type": "application/json" }, '{"x":1}', "?force=true");
    expect(fields.status).toBe(400);
    expect(((await fields.json()) as { errors: { path: string }[] }).errors.map((issue) => issue.path)).toEqual(["query.force", "x"]);
    const status = (await (await fetch(`${service.url}/v1/projections`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { items: Array<{ name: string; rebuild: unknown }> };
    expect(status.items.find((item) => item.name === "daily_sales")?.rebuild).toBeNull();
  });
});

/** Polls a metrics endpoint until its text has the given line (10 s at most). */
async function waitUntilMetric(url: string, line: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  let text = "";
  while (Date.now() < deadline) {
    text = await (await fetch(url)).text();
    if (text.split("\n").includes(line)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(text.split("\n").filter((candidate) => candidate.startsWith(line.split(" ")[0]!))).toContain(line);
}
