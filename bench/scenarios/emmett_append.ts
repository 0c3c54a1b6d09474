/**
 * emmett-append: the order-placement workload (read the products' streams, append OrderPlaced
 * to a new stream per order) through Emmett's PostgreSQL event store — the peer — next to the
 * same workload through our store and the pg-insert floor, each at the same concurrency.
 * Our store goes the route's way (placeOrder): cached product snapshots, one guarded append
 * per order once the products are cached.
 */
import { getPostgreSQLEventStore } from "@event-driven-io/emmett-postgresql";
import { STREAM_DOES_NOT_EXIST } from "@event-driven-io/emmett";
import { randomUUID } from "node:crypto";
import { migrate } from "../../src/db/migrate.ts";
import { placeOrder } from "../../src/commands/orders/place_order.ts";
import { createProductSnapshotCache } from "../../src/commands/orders/product_snapshot_cache.ts";
import { createPostgresStore } from "../../src/event_store/postgres.ts";
import type { ProductCreated } from "../../src/shared/events.ts";
import { streams } from "../../src/shared/events.ts";
import { runClosedLoop } from "../lib/closed_loop.ts";
import { createBenchDatabase, poolSizeFor } from "../lib/database.ts";
import { orderPlaced, productPicker, workloadProducts } from "../lib/order_workload.ts";
import { compare } from "../lib/report.ts";
import type { BenchOptions, Comparison, Measurement, Scenario } from "../lib/types.ts";
import { measurePgInsertFloor } from "./pg_insert_floor.ts";

const PRODUCTS = 1000;

/** Places orders through Emmett's PostgreSQL store at `connections` on a fresh database. */
export async function measureEmmettAppend(options: BenchOptions, connections: number, role: Measurement["role"] = "baseline"): Promise<Measurement> {
  const db = await createBenchDatabase(options.databaseUrl, "emmett");
  const pool = db.pool(poolSizeFor(connections));
  const store = getPostgreSQLEventStore(db.url, { connectionOptions: { pool } });
  try {
    const products = workloadProducts(options.smoke ? 100 : PRODUCTS);
    for (const p of products) await store.appendToStream(streams.product(p.id), [{ type: "ProductCreated", data: p.created }], { expectedStreamVersion: STREAM_DOES_NOT_EXIST });
    const pick = productPicker(products.length);
    return await runClosedLoop({
      label: `emmett-append @${connections}`, role, unit: "append", concurrency: connections, durationS: options.durationS,
      operation: async () => {
        const reads = await Promise.all(pick().map((i) => store.readStream(streams.product(products[i]!.id))));
        const states = reads.map((read) => read.events[0]!.data as ProductCreated["data"]);
        const event = orderPlaced(states, randomUUID());
        await store.appendToStream(streams.order(event.data.orderId), [event], { expectedStreamVersion: STREAM_DOES_NOT_EXIST });
      },
    });
  } finally {
    await store.close().catch(() => undefined);
    await db.drop();
  }
}

/** Places orders through our PostgreSQL event store as the route does (placeOrder: product cache + guarded append) at `connections`. */
export async function measureStoreAppend(options: BenchOptions, connections: number, role: Measurement["role"] = "subject"): Promise<Measurement> {
  const db = await createBenchDatabase(options.databaseUrl, "store");
  const pool = db.pool(poolSizeFor(connections));
  await migrate(pool);
  const store = createPostgresStore(pool);
  try {
    const products = workloadProducts(options.smoke ? 100 : PRODUCTS);
    const meta = () => ({ occurredAt: new Date().toISOString(), correlationId: randomUUID(), causationId: null });
    for (const p of products) await store.append(streams.product(p.id), [{ type: "ProductCreated", data: p.created, metadata: meta() }], { expectedVersion: "no_stream" });
    const pick = productPicker(products.length);
    const cache = createProductSnapshotCache();
    return await runClosedLoop({
      label: `store-append @${connections}`, role, unit: "append", concurrency: connections, durationS: options.durationS,
      operation: async () => {
        const lines = pick().map((index, i) => ({ productId: products[index]!.id, quantity: 1 + (i % 2) }));
        await placeOrder({ store, products: cache, orderId: randomUUID(), customerId: randomUUID(), lines, metadata: meta() });
      },
    });
  } finally {
    await store.close().catch(() => undefined);
    await db.drop();
  }
}

export const emmettAppend: Scenario = {
  name: "emmett-append",
  description: "order placement (read product streams, append OrderPlaced to a new stream) through Emmett's PostgreSQL store vs. our store vs. plain INSERTs",
  async run(options) {
    const measurements: Measurement[] = [];
    const comparisons: Comparison[] = [];
    for (const connections of options.connections) {
      measurements.push(await measureEmmettAppend(options, connections, "subject"));
      measurements.push(await measureStoreAppend(options, connections, "subject"));
      measurements.push(await measurePgInsertFloor(options, connections, "baseline"));
      for (const c of [
        compare(measurements, `emmett-append @${connections}`, `pg-insert-floor @${connections}`),
        compare(measurements, `store-append @${connections}`, `pg-insert-floor @${connections}`),
        compare(measurements, `store-append @${connections}`, `emmett-append @${connections}`),
      ]) if (c) comparisons.push(c);
    }
    return { params: { products: options.smoke ? 100 : PRODUCTS, emmett: "0.42" }, measurements, comparisons };
  },
};
