import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pool } from "../../db/pool.ts";
import { databaseAvailable, databaseSkipReason } from "../../testing/db.ts";
import { productBody, startCommandHarness, type CommandHarness } from "../test_support.ts";
import type { EventMetadata, EventStore } from "../../event_store/types.ts";
import { placeOrder } from "./place_order.ts";
import { ProductSnapshotCache } from "./product_snapshot_cache.ts";

const metadata: EventMetadata = { occurredAt: "2026-11-21T10:15:30.123Z", correlationId: "test", causationId: null };

/** Counts the queries sent through the pool (each one a round trip) until restored. */
function countQueries(pool: Pool): { readonly count: number; restore(): void } {
  const original = pool.query;
  let count = 0;
  pool.query = function (this: Pool, ...args: unknown[]) {
    count++;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as Pool["query"];
  return {
    get count() {
      return count;
    },
    restore() {
      pool.query = original;
    },
  };
}

interface OrderLineData {
  productId: string;
  name: string;
  unitPriceCents: number;
}

describe.skipIf(!databaseAvailable)(`order placement through the product cache (${databaseAvailable ? "PostgreSQL" : databaseSkipReason})`, () => {
  // Two services on one database, each with its own pool, store and product cache: two processes.
  let a: CommandHarness;
  let b: CommandHarness;
  const customerId = crypto.randomUUID();

  async function product(h: CommandHarness, overrides: Record<string, unknown> = {}): Promise<string> {
    const response = await h.post("/v1/products", productBody(overrides));
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: string }).id;
  }

  async function order(h: CommandHarness, productIds: string[], status = 201): Promise<OrderLineData[]> {
    const id = crypto.randomUUID();
    const response = await h.post("/v1/orders", { id, customerId, lines: productIds.map((productId) => ({ productId, quantity: 1 })) });
    expect(response.status).toBe(status);
    if (status !== 201) return [];
    const [event] = (await h.store.readStream(`order-${id}`)).events;
    return (event!.data as { lines: OrderLineData[] }).lines;
  }

  beforeAll(async () => {
    a = await startCommandHarness();
    b = await startCommandHarness({ database: a.db });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it("places a warm order (every product cached) in one round trip; a cold one in two", async () => {
    const mug = await product(a, { priceCents: 1200 });
    const pen = await product(a, { priceCents: 250 });
    const roundTrips = async (productIds: string[]): Promise<number> => {
      const counter = countQueries(a.db.pool);
      try {
        const response = await a.post("/v1/orders", { customerId, lines: productIds.map((productId) => ({ productId, quantity: 1 })) });
        expect(response.status).toBe(201);
      } finally {
        counter.restore();
      }
      return counter.count;
    };
    expect(await roundTrips([mug, pen])).toBe(2); // read both product streams, append
    expect(await roundTrips([pen, mug])).toBe(1); // the guarded append only
    expect(await roundTrips([mug])).toBe(1);
    expect((await order(a, [pen, mug])).map((line) => line.unitPriceCents)).toEqual([250, 1200]);
  });

  it("captures a price changed by another process, whose cache never saw the change", async () => {
    const mug = await product(a, { name: "Mug", priceCents: 1200 });
    expect((await order(b, [mug]))[0]!.unitPriceCents).toBe(1200); // b caches the mug at version 1
    expect((await a.post(`/v1/products/${mug}/price`, { priceCents: 1500 })).status).toBe(200);
    expect((await a.post(`/v1/products/${mug}/details`, { name: "Big mug" })).status).toBe(200);
    expect((await order(b, [mug]))[0]).toMatchObject({ name: "Big mug", unitPriceCents: 1500 });
    expect((await order(b, [mug]))[0]).toMatchObject({ name: "Big mug", unitPriceCents: 1500 });
  });

  it("refuses a product discontinued by another process with 422, appending nothing", async () => {
    const mug = await product(a);
    const pen = await product(a);
    await order(b, [mug, pen]);
    expect((await a.post(`/v1/products/${pen}/discontinue`)).status).toBe(200);
    const before = await b.countEvents();
    await order(b, [mug, pen], 422);
    await order(b, [pen], 422);
    expect(await b.countEvents()).toBe(before);
    await order(b, [mug]);
  });

  it("orders a product created by another process right after an order for it answered 422", async () => {
    const id = crypto.randomUUID();
    const mug = await product(a);
    await order(b, [mug, id], 422);
    await order(b, [id], 422);
    expect(await product(a, { id, priceCents: 777 })).toBe(id);
    expect((await order(b, [mug, id]))[1]!.unitPriceCents).toBe(777);
  });

  it("falls back to reading every product and appending unguarded when the guard keeps going stale", async () => {
    const mug = await product(a, { priceCents: 1200 });
    // Another process adjusts the mug's stock right before each of this store's appends.
    let interleaved = 0;
    const append: EventStore["append"] = async (...args) => {
      interleaved++;
      await b.store.append(`product-${mug}`, [{ type: "ProductStockAdjusted", data: { productId: mug, delta: 1, stock: interleaved, reason: "" }, metadata }], { expectedVersion: "any" });
      return a.store.append(...args);
    };
    const store = new Proxy(a.store, {
      get(target, key) {
        if (key === "append") return append;
        const value: unknown = Reflect.get(target, key);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const orderId = crypto.randomUUID();
    const result = await placeOrder({ store, products: new ProductSnapshotCache(), orderId, customerId, lines: [{ productId: mug, quantity: 1 }], metadata });
    expect(result.appended).toBe(true);
    expect(interleaved).toBe(4); // three guarded attempts, then the unguarded append
    expect((await a.store.readStream(`order-${orderId}`)).version).toBe(1);
  });

  it("answers 409 for an existing order id and replays an Idempotency-Key exactly as before", async () => {
    const mug = await product(a);
    await order(a, [mug]);
    const id = crypto.randomUUID();
    const body = { id, customerId, lines: [{ productId: mug, quantity: 2 }] };
    const first = await a.post("/v1/orders", body, { "idempotency-key": `k-${id}` });
    expect(first.status).toBe(201);
    const replay = await a.post("/v1/orders", body, { "idempotency-key": `k-${id}` });
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await replay.json()).toEqual(await first.json());
    const again = await b.post("/v1/orders", body);
    expect(again.status).toBe(409);
    expect(await a.countEvents(`order-${id}`)).toBe(1);
  });
});

describe("ProductSnapshotCache", () => {
  const snapshot = { status: "active" as const, sku: "S", name: "N", category: "c", priceCents: 1, currency: "EUR" };

  it("evicts the least recently used product beyond its capacity", () => {
    const cache = new ProductSnapshotCache(2);
    cache.set("a", { version: 1, snapshot });
    cache.set("b", { version: 1, snapshot });
    cache.get("a");
    cache.set("c", { version: 1, snapshot });
    expect([cache.get("a")?.version, cache.get("b"), cache.get("c")?.version]).toEqual([1, undefined, 1]);
    expect(cache.size).toBe(2);
  });

  it("never replaces a newer version with an older one", () => {
    const cache = new ProductSnapshotCache(10);
    cache.set("a", { version: 3, snapshot });
    cache.set("a", { version: 2, snapshot: { ...snapshot, priceCents: 2 } });
    expect(cache.get("a")).toEqual({ version: 3, snapshot });
    cache.delete("a");
    expect(cache.get("a")).toBeUndefined();
  });
});
