/**
 * A random workload against the whole service, checked against a model kept beside it: random
 * product and order commands (valid and invalid ones, in a fixed-seed order), each answer's
 * status predicted by the model, then every read route compared with what the model says the
 * read models must hold — products by id and sku with their sales, orders, customer lists
 * walked page by page, product lists in every sort and filter walked by cursor, best sellers
 * and daily sales. Then lanes of orders at once on shared products: every paid line counted
 * once in the products' sales, best sellers and daily sales. Against real PostgreSQL and Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../config.ts";
import { startService, type Service } from "../main.ts";
import { createRandom } from "../seed/prng.ts";
import { comparePositions, parsePosition } from "../shared/position.ts";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../testing/db.ts";
import { createTestRedis, redisAvailable, redisSkipReason } from "../testing/redis.ts";

const TOKEN = "random-workload-token";
const STEPS = 400;
const available = databaseAvailable && redisAvailable;

interface ProductModel {
  id: string; sku: string; name: string; category: string; priceCents: number; currency: string; stock: number;
  status: "active" | "discontinued"; unitsSold: number; revenueCents: number; version: number;
}
interface LineModel { productId: string; sku: string; name: string; category: string; quantity: number; unitPriceCents: number; lineTotalCents: number }
interface OrderModel { id: string; customerId: string; status: "placed" | "paid" | "shipped" | "cancelled"; currency: string; lines: LineModel[]; totalCents: number; itemCount: number; version: number }
interface Page<T> { items: T[]; nextCursor: string | null }
interface ProductAnswer extends ProductModel { createdAt: string }
interface CustomerItem { id: string; status: string; placedAt: string }

/** The service on a fresh database and Redis key space; stop() removes all three. */
async function startWorkloadService(): Promise<{ service: Service; stop(): Promise<void> }> {
  const db: TestDatabase = await createTestDatabase();
  const redis = createTestRedis();
  const config = loadConfig({ DATABASE_URL: db.url, REDIS_URL: redis.url, PORT: "0", API_TOKENS: `${TOKEN}:commands+operator`, LOG_LEVEL: "silent", PROJECTION_WORKERS: "2" });
  const service = await startService(config, { redisKeyPrefix: redis.prefix });
  return {
    service,
    async stop() {
      await service.stop();
      await redis.cleanup();
      await db.drop();
    },
  };
}

/** POSTs a command with the test's token; its status, answer text and position (null when it has none). */
async function post(service: Service, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; text: string; position: string | null }> {
  const response = await fetch(`${service.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, text, position: (JSON.parse(text) as { position?: string }).position ?? null };
}

describe.skipIf(!available)(`a random workload checked against a model (${available ? "PostgreSQL + Redis" : `${databaseSkipReason}; ${redisSkipReason}`})`, () => {
  let running: Awaited<ReturnType<typeof startWorkloadService>> | undefined;
  let service: Service;
  let last: string | null = null;
  /** Answers whose status the model did not predict. */
  const surprises: string[] = [];

  /** Sends a command; its status is checked against `expected`. With an idempotency key, sends it again and checks the same answer comes back. */
  async function command(path: string, body: unknown, expected: number, headers: Record<string, string> = {}): Promise<number> {
    const first = await post(service, path, body, headers);
    if (first.status !== expected) surprises.push(`POST ${path} ${JSON.stringify(body)}: ${first.status}, expected ${expected}: ${first.text}`);
    if (headers["idempotency-key"] !== undefined && first.status < 500) {
      const again = await post(service, path, body, headers);
      if (again.status !== first.status || again.text !== first.text) surprises.push(`POST ${path} again with its idempotency key: ${again.status} ${again.text}, first ${first.status} ${first.text}`);
    }
    if (first.status >= 200 && first.status < 300 && first.position) last = first.position;
    return first.status;
  }

  async function read<T>(path: string): Promise<{ status: number; body: T }> {
    const response = await fetch(`${service.url}${path}`, { headers: last ? { "x-consistent-with": last } : {} });
    return { status: response.status, body: (await response.json()) as T };
  }

  async function walk<T>(path: string): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: Page<T> } = await read<Page<T>>(`${path}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(page.status, path).toBe(200);
      items.push(...page.body.items);
      cursor = page.body.nextCursor;
    } while (cursor !== null);
    return items;
  }

  const random = createRandom(20261206, "random-workload");
  const categories = ["kitchen", "garden", "toys"];
  const customers = Array.from({ length: 5 }, () => random.uuid());
  const products = new Map<string, ProductModel>();
  const orders = new Map<string, OrderModel>();

  beforeAll(async () => {
    running = await startWorkloadService();
    service = running.service;

    for (let i = 0; i < 30; i++) {
      const product: ProductModel = {
        id: random.uuid(), sku: `RW-${i}`, name: `Thing ${i}`, category: random.pick(categories), priceCents: random.int(0, 5000),
        currency: random.chance(0.2) ? "USD" : "EUR", stock: 10, status: "active", unitsSold: 0, revenueCents: 0, version: 1,
      };
      const { id, sku, name, category, priceCents, currency, stock } = product;
      if (await command("/v1/products", { id, sku, name, category, priceCents, currency, stock }, 201) === 201) products.set(product.id, product);
    }
    await command("/v1/products", { sku: "RW-0", name: "Taken", category: "toys", priceCents: 1 }, 409);
    const catalog = [...products.values()];

    for (let step = 0; step < STEPS; step++) {
      const roll = random.next();
      const product = random.pick(catalog);
      const gone = product.status === "discontinued";
      const order = orders.size > 0 ? random.pick([...orders.values()]) : null;
      if (roll < 0.08) {
        const priceCents = random.int(0, 5000);
        if (await command(`/v1/products/${product.id}/price`, { priceCents }, gone ? 409 : 200) === 200 && priceCents !== product.priceCents) {
          product.priceCents = priceCents;
          product.version++;
        }
      } else if (roll < 0.12) {
        const delta = random.chance(0.5) ? random.int(1, 15) : -random.int(1, 15);
        if (await command(`/v1/products/${product.id}/stock`, { delta }, gone ? 409 : product.stock + delta < 0 ? 422 : 200) === 200) {
          product.stock += delta;
          product.version++;
        }
      } else if (roll < 0.14) {
        if (await command(`/v1/products/${product.id}/discontinue`, {}, gone ? 409 : 200) === 200) {
          product.status = "discontinued";
          product.version++;
        }
      } else if (roll < 0.17) {
        const change = { category: random.pick(categories), name: `Renamed ${step}` };
        if (await command(`/v1/products/${product.id}/details`, change, gone ? 409 : 200) === 200) {
          Object.assign(product, change);
          product.version++;
        }
      } else if (roll < 0.2 && !gone) {
        // A price change conditional on the version: a stale If-Match changes nothing.
        const stale = random.chance(0.5);
        const priceCents = random.int(0, 5000);
        const status = await command(`/v1/products/${product.id}/price`, { priceCents }, stale ? 412 : 200, { "if-match": `"${product.version - (stale ? 1 : 0)}"` });
        if (status === 200 && priceCents !== product.priceCents) {
          product.priceCents = priceCents;
          product.version++;
        }
      } else if (roll < 0.55 || order === null) {
        const chosen = [...new Set(Array.from({ length: random.int(1, 3) }, () => random.pick(catalog)))];
        const lines = chosen.map((p) => ({ productId: p.id, quantity: random.int(1, 3) }));
        const refused = chosen.some((p) => p.status === "discontinued") || new Set(chosen.map((p) => p.currency)).size > 1;
        const placed: OrderModel = { id: random.uuid(), customerId: random.pick(customers), status: "placed", currency: chosen[0]!.currency, lines: [], totalCents: 0, itemCount: 0, version: 1 };
        const keyed = random.chance(0.2) ? { "idempotency-key": `rw-${step}` } : undefined;
        if (await command("/v1/orders", { id: placed.id, customerId: placed.customerId, lines }, refused ? 422 : 201, keyed) === 201) {
          // The same key with another body is refused and changes nothing.
          if (keyed) await command("/v1/orders", { id: random.uuid(), customerId: placed.customerId, lines }, 422, keyed);
          placed.lines = lines.map((line, i) => {
            const p = chosen[i]!;
            return { productId: p.id, sku: p.sku, name: p.name, category: p.category, quantity: line.quantity, unitPriceCents: p.priceCents, lineTotalCents: line.quantity * p.priceCents };
          });
          placed.totalCents = placed.lines.reduce((sum, line) => sum + line.lineTotalCents, 0);
          placed.itemCount = placed.lines.reduce((sum, line) => sum + line.quantity, 0);
          orders.set(placed.id, placed);
        }
      } else if (roll < 0.8) {
        const wrong = random.chance(0.1);
        const body = { paymentId: random.uuid(), amountCents: order.totalCents + (wrong ? 1 : 0), method: "card" };
        if (await command(`/v1/orders/${order.id}/pay`, body, order.status !== "placed" ? 409 : wrong ? 422 : 200) === 200) {
          order.status = "paid";
          order.version++;
          for (const line of order.lines) {
            products.get(line.productId)!.unitsSold += line.quantity;
            products.get(line.productId)!.revenueCents += line.lineTotalCents;
          }
        }
      } else if (roll < 0.9) {
        if (await command(`/v1/orders/${order.id}/ship`, { carrier: "DHL", trackingNumber: `T${step}` }, order.status !== "paid" ? 409 : 200) === 200) {
          order.status = "shipped";
          order.version++;
        }
      } else {
        const refused = order.status === "shipped" || order.status === "cancelled";
        const wasPaid = order.status === "paid";
        if (await command(`/v1/orders/${order.id}/cancel`, {}, refused ? 409 : 200) === 200) {
          if (wasPaid) {
            for (const line of order.lines) {
              products.get(line.productId)!.unitsSold -= line.quantity;
              products.get(line.productId)!.revenueCents -= line.lineTotalCents;
            }
          }
          order.status = "cancelled";
          order.version++;
        }
      }
    }
  }, 120_000);

  afterAll(async () => {
    await running?.stop();
  });

  it("answers every command as the model predicts", () => {
    expect(surprises).toEqual([]);
    expect(orders.size).toBeGreaterThan(50);
  });

  it("serves every product and order as the model holds it", async () => {
    for (const product of products.values()) {
      const byId = await read<ProductAnswer>(`/v1/products/${product.id}`);
      expect(byId.status).toBe(200);
      expect(byId.body).toMatchObject({ ...product });
      expect((await read<ProductAnswer>(`/v1/products/by-sku/${product.sku}`)).body).toEqual(byId.body);
    }
    for (const order of orders.values()) {
      const answer = await read<OrderModel>(`/v1/orders/${order.id}`);
      expect(answer.status).toBe(200);
      const { lines, ...fields } = order;
      expect(answer.body).toMatchObject(fields);
      expect(answer.body.lines).toEqual(lines.map(({ category: _category, ...line }) => line));
    }
  });

  it("walks each customer's orders, per status too, once each in placedAt-desc, id-desc order", async () => {
    for (const customer of customers) {
      for (const status of [null, "placed", "paid", "shipped", "cancelled"]) {
        const items = await walk<CustomerItem>(`/v1/customers/${customer}/orders?limit=3${status ? `&status=${status}` : ""}`);
        const expected = [...orders.values()].filter((o) => o.customerId === customer && (status === null || o.status === status));
        expect(items.map((item) => item.id).sort()).toEqual(expected.map((o) => o.id).sort());
        const ordered = [...items].sort((a, b) => (a.placedAt !== b.placedAt ? (a.placedAt < b.placedAt ? 1 : -1) : a.id < b.id ? 1 : -1));
        expect(items.map((item) => item.id)).toEqual(ordered.map((item) => item.id));
      }
    }
  });

  it("walks every product list (sort, category, status, price range) to each match once, in order", async () => {
    const orderings: Record<string, (a: ProductAnswer, b: ProductAnswer) => number> = {
      newest: (a, b) => (a.createdAt !== b.createdAt ? (a.createdAt < b.createdAt ? 1 : -1) : a.id < b.id ? -1 : 1),
      price_asc: (a, b) => a.priceCents - b.priceCents || (a.id < b.id ? -1 : 1),
      price_desc: (a, b) => b.priceCents - a.priceCents || (a.id < b.id ? -1 : 1),
      best_selling: (a, b) => b.unitsSold - a.unitsSold || (a.id < b.id ? -1 : 1),
    };
    for (const [sort, ordering] of Object.entries(orderings)) {
      for (const category of [null, ...categories]) {
        for (const status of ["active", "discontinued", "any"] as const) {
          for (const range of [null, [1000, 3000]] as const) {
            const query = `/v1/products?sort=${sort}&status=${status}&limit=7${category ? `&category=${category}` : ""}${range ? `&minPriceCents=${range[0]}&maxPriceCents=${range[1]}` : ""}`;
            const items = await walk<ProductAnswer>(query);
            const expected = [...products.values()].filter((p) => (category === null || p.category === category) && (status === "any" || p.status === status) && (range === null || (p.priceCents >= range[0] && p.priceCents <= range[1])));
            expect(items.map((p) => p.id).sort(), query).toEqual(expected.map((p) => p.id).sort());
            expect(items.map((p) => p.id), query).toEqual([...items].sort(ordering).map((p) => p.id));
          }
        }
      }
    }
  });

  it("ranks best sellers and sums daily sales as the model does", async () => {
    for (const category of categories) {
      const answer = await read<{ items: { productId: string; unitsSold: number; revenueCents: number }[] }>(`/v1/categories/${category}/best-sellers?limit=100`);
      const expected = [...products.values()].filter((p) => p.category === category && p.unitsSold > 0).sort((a, b) => b.unitsSold - a.unitsSold || (a.id < b.id ? -1 : 1));
      expect(answer.body.items.map(({ productId, unitsSold, revenueCents }) => ({ productId, unitsSold, revenueCents }))).toEqual(expected.map((p) => ({ productId: p.id, unitsSold: p.unitsSold, revenueCents: p.revenueCents })));
    }
    // Every event of this test happened today (UTC): one row per category and currency, under the category at placement.
    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const daily = await read<{ items: { category: string; currency: string; orders: number; units: number; revenueCents: number }[] }>(`/v1/stats/daily-sales?from=${yesterday}&to=${today}`);
    const expected = new Map<string, { orders: Set<string>; units: number; revenueCents: number }>();
    for (const order of orders.values()) {
      if (order.status !== "paid" && order.status !== "shipped") continue;
      for (const line of order.lines) {
        const key = `${line.category}|${order.currency}`;
        const row = expected.get(key) ?? { orders: new Set<string>(), units: 0, revenueCents: 0 };
        row.orders.add(order.id);
        row.units += line.quantity;
        row.revenueCents += line.lineTotalCents;
        expected.set(key, row);
      }
    }
    // A run across midnight UTC splits the rows over two days; compare the totals per category and currency then.
    const got = new Map<string, { orders: number; units: number; revenueCents: number }>();
    for (const item of daily.body.items) {
      const key = `${item.category}|${item.currency}`;
      const sum = got.get(key) ?? { orders: 0, units: 0, revenueCents: 0 };
      got.set(key, { orders: sum.orders + item.orders, units: sum.units + item.units, revenueCents: sum.revenueCents + item.revenueCents });
    }
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries([...expected].map(([key, row]) => [key, { orders: row.orders.size, units: row.units, revenueCents: row.revenueCents }])));
  });
});

describe.skipIf(!available)(`concurrent lanes of orders on shared products (${available ? "PostgreSQL + Redis" : `${databaseSkipReason}; ${redisSkipReason}`})`, () => {
  const LANES = 8;
  const STEPS_PER_LANE = 40;
  let running: Awaited<ReturnType<typeof startWorkloadService>> | undefined;
  let service: Service;
  const command = (path: string, body: unknown) => post(service, path, body);

  beforeAll(async () => {
    running = await startWorkloadService();
    service = running.service;
  });
  afterAll(async () => {
    await running?.stop();
  });

  it("counts every paid line once in the products' sales, best sellers and daily sales", async () => {
    const random = createRandom(7, "concurrent-lanes");
    const products = Array.from({ length: 6 }, (_, i) => ({ id: random.uuid(), sku: `LANE-${i}`, priceCents: 100 * (i + 1), unitsSold: 0, revenueCents: 0 }));
    for (const p of products) expect((await command("/v1/products", { id: p.id, sku: p.sku, name: p.sku, category: "lanes", priceCents: p.priceCents })).status).toBe(201);
    const positions: string[] = [];
    // Each lane moves its own orders along (so every answer is known) while all lanes sell the same products.
    await Promise.all(Array.from({ length: LANES }, async (_, lane) => {
      const own = createRandom(lane, "lane");
      const open: { id: string; status: string; lines: { productId: string; quantity: number }[]; total: number }[] = [];
      for (let step = 0; step < STEPS_PER_LANE; step++) {
        const order = open.length > 0 && own.chance(0.6) ? own.pick(open) : null;
        if (order === null) {
          const chosen = [...new Set([own.pick(products), own.pick(products)])];
          const lines = chosen.map((p) => ({ productId: p.id, quantity: own.int(1, 4) }));
          const id = own.uuid();
          const placed = await command("/v1/orders", { id, customerId: own.uuid(), lines });
          expect(placed.status).toBe(201);
          open.push({ id, status: "placed", lines, total: lines.reduce((sum, l) => sum + l.quantity * products.find((p) => p.id === l.productId)!.priceCents, 0) });
          positions.push(placed.position!);
        } else if (order.status === "placed" && own.chance(0.8)) {
          const paid = await command(`/v1/orders/${order.id}/pay`, { paymentId: own.uuid(), amountCents: order.total, method: "paypal" });
          expect(paid.status).toBe(200);
          order.status = "paid";
          positions.push(paid.position!);
        } else if (order.status === "paid" && own.chance(0.5)) {
          const shipped = await command(`/v1/orders/${order.id}/ship`, { carrier: "UPS", trackingNumber: `L${lane}-${step}` });
          expect(shipped.status).toBe(200);
          order.status = "shipped";
          positions.push(shipped.position!);
        } else if (order.status === "placed" || order.status === "paid") {
          const cancelled = await command(`/v1/orders/${order.id}/cancel`, { reason: "changed mind" });
          expect(cancelled.status).toBe(200);
          order.status = "cancelled";
          positions.push(cancelled.position!);
        }
      }
      for (const order of open) {
        if (order.status !== "paid" && order.status !== "shipped") continue;
        for (const line of order.lines) {
          const p = products.find((candidate) => candidate.id === line.productId)!;
          p.unitsSold += line.quantity;
          p.revenueCents += line.quantity * p.priceCents;
        }
      }
    }));
    // Read after the latest position any lane was answered with.
    const latest = positions.reduce((a, b) => (comparePositions(parsePosition(a)!, parsePosition(b)!) >= 0 ? a : b));
    const headers = { "x-consistent-with": latest };
    for (const p of products) {
      const answer = (await (await fetch(`${service.url}/v1/products/${p.id}`, { headers })).json()) as { unitsSold: number; revenueCents: number };
      expect({ sku: p.sku, unitsSold: answer.unitsSold, revenueCents: answer.revenueCents }).toEqual({ sku: p.sku, unitsSold: p.unitsSold, revenueCents: p.revenueCents });
    }
    const best = (await (await fetch(`${service.url}/v1/categories/lanes/best-sellers?limit=100`, { headers })).json()) as { items: { productId: string; unitsSold: number }[] };
    const expected = products.filter((p) => p.unitsSold > 0).sort((a, b) => b.unitsSold - a.unitsSold || (a.id < b.id ? -1 : 1));
    expect(best.items.map(({ productId, unitsSold }) => ({ productId, unitsSold }))).toEqual(expected.map((p) => ({ productId: p.id, unitsSold: p.unitsSold })));
    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const daily = (await (await fetch(`${service.url}/v1/stats/daily-sales?from=${yesterday}&to=${today}&category=lanes`, { headers })).json()) as { items: { units: number; revenueCents: number }[] };
    expect(daily.items.reduce((sum, row) => sum + row.units, 0)).toBe(products.reduce((sum, p) => sum + p.unitsSold, 0));
    expect(daily.items.reduce((sum, row) => sum + row.revenueCents, 0)).toBe(products.reduce((sum, p) => sum + p.revenueCents, 0));
  }, 120_000);

  it("lets exactly one of many concurrent commands on one order through, and keeps its answer", async () => {
    const random = createRandom(11, "one-order");
    const productId = random.uuid();
    expect((await command("/v1/products", { id: productId, sku: "ONE-ORDER", name: "One", category: "one-order", priceCents: 250 })).status).toBe(201);
    let latest = "";
    for (let round = 0; round < 5; round++) {
      const orderId = random.uuid();
      expect((await command("/v1/orders", { id: orderId, customerId: random.uuid(), lines: [{ productId, quantity: 2 }] })).status).toBe(201);
      // Twenty payments at once (each its own payment id), then twenty cancellations at once.
      const paid = await Promise.all(Array.from({ length: 20 }, () => command(`/v1/orders/${orderId}/pay`, { paymentId: random.uuid(), amountCents: 500, method: "card" })));
      expect(paid.map((r) => r.status).sort()).toEqual([200, ...Array<number>(19).fill(409)]);
      const cancelled = await Promise.all(Array.from({ length: 20 }, () => command(`/v1/orders/${orderId}/cancel`, {})));
      expect(cancelled.map((r) => r.status).sort()).toEqual([200, ...Array<number>(19).fill(409)]);
      const winner = cancelled.find((r) => r.status === 200)!;
      latest = winner.position!;
      const order = (await (await fetch(`${service.url}/v1/orders/${orderId}`, { headers: { "x-consistent-with": winner.position! } })).json()) as { status: string; version: number; payment: unknown };
      expect(order).toMatchObject({ status: "cancelled", version: 3 });
      expect(order.payment).not.toBeNull();
    }
    // Five orders paid and cancelled: nothing sold.
    const product = (await (await fetch(`${service.url}/v1/products/${productId}`, { headers: { "x-consistent-with": latest } })).json()) as { unitsSold: number; revenueCents: number };
    expect(product).toMatchObject({ unitsSold: 0, revenueCents: 0 });
  }, 60_000);
});
