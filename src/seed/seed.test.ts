import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresStore } from "../event_store/postgres.ts";
import type { EventStore, RecordedEvent } from "../event_store/types.ts";
import type { OrderCancelled, OrderPaid, OrderPlaced, ProductCreated } from "../shared/events.ts";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../testing/db.ts";
import { planOrders } from "./orders.ts";
import { seed, seedCatalog, SeedConflictError, seedEventCount, seedSizeForEvents, seedWindow, timeOrdered } from "./seed.ts";

const SIZE = { products: 40, orders: 300, customers: 60, seed: 7 };

/**
 * Reads the `count` events a seed appended. An empty read before that means the rest is
 * still hidden behind a transaction open elsewhere on the server (another test's: the
 * visibility horizon is server-wide): wait for it rather than stop short.
 */
async function readEverything(store: EventStore, count: number): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  const deadline = Date.now() + 20_000;
  while (all.length < count && Date.now() < deadline) {
    const batch = await store.readAll(all.at(-1)?.position ?? null, 1000);
    all.push(...batch);
    if (batch.length === 0) await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return all;
}

function byStream(events: RecordedEvent[]): Map<string, RecordedEvent[]> {
  const map = new Map<string, RecordedEvent[]>();
  for (const event of events) map.set(event.streamId, [...(map.get(event.streamId) ?? []), event]);
  return map;
}

describe.skipIf(!databaseAvailable)(`seed (${databaseAvailable ? "PostgreSQL" : databaseSkipReason})`, () => {
  let first: TestDatabase;
  let second: TestDatabase;
  let events: RecordedEvent[];
  let again: RecordedEvent[];
  let appended: number;

  beforeAll(async () => {
    [first, second] = await Promise.all([createTestDatabase({ poolSize: 8 }), createTestDatabase({ poolSize: 8 })]);
    const storeA = createPostgresStore(first.pool);
    const storeB = createPostgresStore(second.pool);
    const progress: number[] = [];
    appended = (await seed(storeA, { ...SIZE, concurrency: 8, onProgress: (done) => progress.push(done) })).events;
    const appendedAgain = (await seed(storeB, { ...SIZE, concurrency: 3 })).events;
    events = await readEverything(storeA, appended);
    again = await readEverything(storeB, appendedAgain);
    expect(progress.at(-1)).toBe(appended);
    await Promise.all([storeA.close(), storeB.close()]);
  });

  afterAll(async () => {
    await Promise.all([first?.drop(), second?.drop()]);
  });

  it("refuses to seed a store that already holds its skus, appending nothing", async () => {
    const store = createPostgresStore(first.pool);
    try {
      const before = await first.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events");
      // Another --seed makes other product ids but the same skus.
      await expect(seed(store, { ...SIZE, seed: 8, concurrency: 4 })).rejects.toBeInstanceOf(SeedConflictError);
      const after = await first.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events");
      expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
    } finally {
      await store.close();
    }
  });

  it("appends the count it reports, close to the estimate", () => {
    expect(events).toHaveLength(appended);
    const estimate = seedEventCount(SIZE);
    expect(Math.abs(appended - estimate) / estimate).toBeLessThan(0.15);
    const sized = seedSizeForEvents(1_000_000);
    expect(Math.abs(seedEventCount(sized) - 1_000_000)).toBeLessThan(10_000);
  });

  it("is deterministic: the same seed gives the same streams, types, data and metadata", () => {
    const key = (e: RecordedEvent) => JSON.stringify([e.streamId, e.streamVersion, e.type, e.data, e.metadata]);
    expect(new Set(again.map(key))).toEqual(new Set(events.map(key)));
  });

  it("writes every kind of event, a sku reservation per product, and increasing times per stream", () => {
    const types = new Set(events.map((e) => e.type));
    for (const type of ["SkuReserved", "ProductCreated", "ProductPriceChanged", "ProductStockAdjusted", "OrderPlaced", "OrderPaid", "OrderShipped", "OrderCancelled"]) expect(types).toContain(type);
    const created = events.filter((e) => e.type === "ProductCreated");
    expect(created).toHaveLength(SIZE.products);
    const skus = new Set(events.filter((e) => e.type === "SkuReserved").map((e) => e.streamId));
    for (const e of created) expect(skus).toContain(`sku-${(e.data as ProductCreated["data"]).sku}`);
    for (const [, stream] of byStream(events)) {
      const times = stream.map((e) => e.metadata.occurredAt);
      expect([...times].sort()).toEqual(times);
      for (const e of stream) expect(e.metadata.causationId).toBeNull();
    }
    const categories = new Set(created.map((e) => (e.data as ProductCreated["data"]).category));
    expect(categories.size).toBeGreaterThan(10);
  });

  it("keeps the order rules: active products only, one currency, no product twice, amounts and states consistent", () => {
    const product = new Map<string, { createdAt: string; discontinuedAt: string | null; currency: string }>();
    for (const e of events) {
      if (e.type === "ProductCreated") {
        const data = e.data as ProductCreated["data"];
        product.set(data.productId, { createdAt: e.metadata.occurredAt, discontinuedAt: null, currency: data.currency });
      }
      if (e.type === "ProductDiscontinued") product.get(e.data["productId"] as string)!.discontinuedAt = e.metadata.occurredAt;
    }
    let cancelledAfterPay = 0;
    let cancelledBeforePay = 0;
    for (const [streamId, stream] of byStream(events)) {
      if (!streamId.startsWith("order-")) continue;
      const [placedEvent, ...rest] = stream;
      expect(placedEvent!.type).toBe("OrderPlaced");
      const placed = placedEvent!.data as OrderPlaced["data"];
      const at = placedEvent!.metadata.occurredAt;
      expect(new Set(placed.lines.map((l) => l.productId)).size).toBe(placed.lines.length);
      expect(placed.totalCents).toBe(placed.lines.reduce((s, l) => s + l.lineTotalCents, 0));
      for (const line of placed.lines) {
        const p = product.get(line.productId)!;
        expect(p.createdAt <= at).toBe(true);
        expect(p.discontinuedAt === null || p.discontinuedAt > at).toBe(true);
        expect(p.currency).toBe(placed.currency);
        expect(line.lineTotalCents).toBe(line.quantity * line.unitPriceCents);
      }
      const types = rest.map((e) => e.type);
      expect([[], ["OrderPaid"], ["OrderPaid", "OrderShipped"], ["OrderPaid", "OrderCancelled"], ["OrderCancelled"]]).toContainEqual(types);
      const paid = rest.find((e) => e.type === "OrderPaid");
      if (paid) expect((paid.data as OrderPaid["data"]).amountCents).toBe(placed.totalCents);
      const cancelled = rest.find((e) => e.type === "OrderCancelled");
      if (cancelled) {
        const data = cancelled.data as OrderCancelled["data"];
        expect(data.paidAt).toBe(paid ? paid.metadata.occurredAt : null);
        expect(data.previousStatus).toBe(paid ? "paid" : "placed");
        expect(data.lines).toHaveLength(placed.lines.length);
        if (paid) cancelledAfterPay++;
        else cancelledBeforePay++;
      }
    }
    expect(cancelledAfterPay).toBeGreaterThan(0);
    expect(cancelledBeforePay).toBeGreaterThan(0);
  });

  it("appends in business-time order: an order's later events come after other orders', and after the products it names", () => {
    const position = new Map(events.map((e, i) => [`${e.streamId}/${e.streamVersion}`, i]));
    const createdAt = new Map(events.filter((e) => e.type === "ProductCreated").map((e) => [(e.data as ProductCreated["data"]).productId, position.get(`${e.streamId}/${e.streamVersion}`)!]));
    let interleaved = 0;
    let multi = 0;
    for (const [streamId, stream] of byStream(events)) {
      if (!streamId.startsWith("order-")) continue;
      const at = stream.map((e) => position.get(`${e.streamId}/${e.streamVersion}`)!);
      for (const line of (stream[0]!.data as OrderPlaced["data"]).lines) expect(createdAt.get(line.productId)!).toBeLessThan(at[0]!);
      if (stream.length > 1) {
        multi++;
        if (at.at(-1)! - at[0]! >= stream.length) interleaved++;
      }
    }
    // Payments come minutes to hours after placement, with other orders placed meanwhile.
    expect(multi).toBeGreaterThan(100);
    expect(interleaved / multi).toBeGreaterThan(0.9);
    // Commits of concurrent appends (8 here) may swap neighbours; across the log, time goes forward.
    const rank = events.map((e, i) => ({ time: Date.parse(e.metadata.occurredAt), i })).sort((a, b) => a.time - b.time || a.i - b.i);
    const displaced = Math.max(...rank.map(({ i }, r) => Math.abs(i - r)));
    expect(displaced).toBeLessThanOrEqual(32);
  });
});

describe("timeOrdered", () => {
  it("yields every planned event once, in business-time order, each stream's events in order", () => {
    const size = { products: 30, orders: 400, customers: 50, seed: 3 };
    const catalog = seedCatalog(size);
    const orders = [...planOrders(catalog, { ...size, ...seedWindow({}) })];
    const items = [...timeOrdered(catalog, orders[Symbol.iterator]())];
    const planned = catalog.products.reduce((sum, product) => sum + product.events.length, 0) + orders.reduce((sum, order) => sum + order.events.length, 0);
    expect(items).toHaveLength(planned);
    const seen = new Set(items.map((item) => `${item.kind === "product" ? item.product.id : item.order.id}/${item.index}`));
    expect(seen.size).toBe(planned);
    for (let i = 1; i < items.length; i++) expect(items[i]!.atMs).toBeGreaterThanOrEqual(items[i - 1]!.atMs);
    const next = new Map<string, number>();
    for (const item of items) {
      const stream = item.kind === "product" ? item.product.id : item.order.id;
      expect(item.index).toBe(next.get(stream) ?? 0);
      next.set(stream, item.index + 1);
    }
  });
});
