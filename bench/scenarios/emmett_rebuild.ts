/**
 * emmett-rebuild: the projection rebuild rate of the peer next to ours, over the same history.
 * The seed's history (same size and seed) goes into Emmett's PostgreSQL event store and into
 * ours; the orders read model (one document per order: the order answer) is rebuilt from the
 * whole log by Emmett's `rebuildPostgreSQLProjections` with its document projection
 * (`pongoSingleStreamProjection`), and by our `npm run cli -- replay orders` while our service
 * serves (which also writes the order's Redis views and the customers' lists). Both rates are
 * log events read per second from position 0 to the head, as the replay scenario counts them.
 */
import { STREAM_DOES_NOT_EXIST, type ReadEvent } from "@event-driven-io/emmett";
import { getPostgreSQLEventStore, pongoSingleStreamProjection, rebuildPostgreSQLProjections } from "@event-driven-io/emmett-postgresql";
import type { AppendOptions, AppendResult, EventStore, NewEvent, StreamRead } from "../../src/event_store/types.ts";
import { START } from "../../src/shared/position.ts";
import type { OrderView } from "../../src/projections/orders/state.ts";
import type { OrderCancelled, OrderPaid, OrderPlaced, OrderShipped } from "../../src/shared/events.ts";
import { seed, type SeedSize } from "../../src/seed/seed.ts";
import { createBenchDatabase } from "../lib/database.ts";
import { compare } from "../lib/report.ts";
import { peakRss, resetOwnPeakRss } from "../lib/rss.ts";
import { settleReadSide, startTarget, waitForProjections, writeOut } from "../lib/target.ts";
import type { BenchOptions, Comparison, Measurement, Scenario } from "../lib/types.ts";
import { runReplay } from "./replay.ts";

/** At most this many events by default: Emmett's appends and rebuild run at a few thousand events per second. */
const MAX_EVENTS = 100_000;

/**
 * Events per batch of Emmett's rebuild (its default is 100): the fastest setting tried, over
 * 20,028 events: 782 events/s at 100, 1,374 at 1,000, 1,437 at 5,000, 1,334 at 20,000.
 */
const EMMETT_BATCH = 1000;

type OrderEvent = OrderPlaced | OrderPaid | OrderShipped | OrderCancelled;
const ORDER_EVENTS = ["OrderPlaced", "OrderPaid", "OrderShipped", "OrderCancelled"] as const;

/** The order answer our orders projection builds (GET /v1/orders/{id}), as a pongo document (a type alias: pongo wants an index signature). */
type OrderDocument = Pick<OrderView, keyof OrderView>;

type EmmettOrderEvent = ReadEvent<{ type: OrderEvent["type"]; data: OrderEvent["data"]; metadata: { occurredAt: string } }>;

/** Emmett's evolve for the order document: the same fields and rules as src/projections/orders. */
function evolveOrder(document: OrderDocument | null, event: EmmettOrderEvent): OrderDocument | null {
  const at = new Date(event.metadata.occurredAt).toISOString();
  const version = Number(event.metadata.streamPosition);
  if (event.type === "OrderPlaced") {
    if (document !== null) return document;
    const data = event.data as OrderPlaced["data"];
    return {
      id: data.orderId, customerId: data.customerId, status: "placed", currency: data.currency,
      lines: data.lines.map((line) => ({ productId: line.productId, sku: line.sku, name: line.name, quantity: line.quantity, unitPriceCents: line.unitPriceCents, lineTotalCents: line.lineTotalCents })),
      totalCents: data.totalCents, itemCount: data.itemCount, payment: null, shipment: null, cancellation: null, placedAt: at, updatedAt: at, version,
    };
  }
  if (document === null || document.version >= version) return document;
  const next: OrderDocument = { ...document, version, updatedAt: at };
  if (event.type === "OrderPaid") {
    const data = event.data as OrderPaid["data"];
    next.status = "paid";
    next.payment = { paymentId: data.paymentId, amountCents: data.amountCents, method: data.method, paidAt: at };
  } else if (event.type === "OrderShipped") {
    const data = event.data as OrderShipped["data"];
    next.status = "shipped";
    next.shipment = { carrier: data.carrier, trackingNumber: data.trackingNumber, shippedAt: at };
  } else {
    const data = event.data as OrderCancelled["data"];
    next.status = "cancelled";
    next.cancellation = { reason: data.reason ?? "", cancelledAt: at };
  }
  return next;
}

/** The seed's appends, made through Emmett's store (every stream new; the seed's metadata kept as the events' metadata). */
function emmettSeedTarget(store: ReturnType<typeof getPostgreSQLEventStore>): EventStore {
  const unsupported = (): never => {
    throw new Error("the seed only appends to new streams and checks its skus");
  };
  return {
    kind: "postgres",
    async append(streamId: string, events: NewEvent[], _options: AppendOptions): Promise<AppendResult> {
      const result = await store.appendToStream(streamId, events.map((event) => ({ type: event.type, data: event.data, metadata: { ...event.metadata } })), { expectedStreamVersion: STREAM_DOES_NOT_EXIST });
      // Emmett's global position is not one of ours; the seed reads only the version.
      return { version: Number(result.nextExpectedStreamVersion), position: START };
    },
    async readStreams(streamIds: readonly string[]): Promise<Map<string, StreamRead>> {
      // A fresh database: no sku is taken.
      return new Map(streamIds.map((id): [string, StreamRead] => [id, { version: 0, events: [] }]));
    },
    readStream: unsupported, readAll: unsupported, headPosition: unsupported, subscribeAll: unsupported,
    ping: async () => undefined,
    close: async () => undefined,
  };
}

/** Seeds Emmett's store with the seed's history of `size` and rebuilds the orders documents; the measurement counts every log event. */
async function measureEmmettRebuild(options: BenchOptions, size: Required<SeedSize>): Promise<{ measurement: Measurement; appended: number; documents: number; placed: number }> {
  const db = await createBenchDatabase(options.databaseUrl, "emmett_rebuild");
  const store = getPostgreSQLEventStore(db.url);
  try {
    const begin = performance.now();
    // One append at a time: Emmett 0.42 reads its log in (transaction id, global position)
    // order but resumes after the last global position it saw, so an event that got a lower
    // position than one of an earlier-committed transaction is skipped; concurrent appends
    // make such events (with 16 appenders, a rebuild over 20,028 events missed 1,222 of 7,675
    // orders). Serial appends give a log it reads whole.
    const seeded = await seed(emmettSeedTarget(store), { ...size, concurrency: 1 });
    options.log(`seeded Emmett's store with ${seeded.events} events in ${((performance.now() - begin) / 1000).toFixed(1)} s`);
    const pool = db.pool(2);
    // At rest, as our store is before its replay (VACUUM ANALYZE, CHECKPOINT and sync).
    await pool.query("VACUUM (ANALYZE)").catch(() => undefined);
    await writeOut(pool);
    const projection = pongoSingleStreamProjection({ collectionName: "orders", canHandle: [...ORDER_EVENTS], evolve: evolveOrder });
    resetOwnPeakRss();
    const consumer = rebuildPostgreSQLProjections({ connectionString: db.url, projections: [projection], pulling: { batchSize: EMMETT_BATCH } });
    const start = performance.now();
    await consumer.start();
    const seconds = (performance.now() - start) / 1000;
    await consumer.close();
    const documents = Number((await pool.query<{ n: string }>("SELECT count(*)::text AS n FROM orders")).rows[0]?.n ?? 0);
    const placed = Number((await pool.query<{ n: string }>("SELECT count(*)::text AS n FROM emt_messages WHERE message_type = 'OrderPlaced'")).rows[0]?.n ?? 0);
    return {
      appended: seeded.events,
      documents,
      placed,
      measurement: {
        label: "emmett rebuild orders", role: "baseline", connections: null, durationS: Math.round(seconds * 1000) / 1000, operations: seeded.events,
        throughput: Math.round(seeded.events / Math.max(seconds, 0.001)), unit: "event", latencyMs: null,
        // An order placed without its document is a rebuild that lost events.
        errors: Math.abs(placed - documents),
        peakRssBytes: peakRss(process.pid), rssOf: "bench process (Emmett runs in-process)",
        notes: `rebuildPostgreSQLProjections (batches of ${EMMETT_BATCH}) with pongoSingleStreamProjection (collection orders): ${documents} order documents for ${placed} orders placed, from ${seeded.events} events (appended one at a time) in ${seconds.toFixed(2)} s`,
      },
    };
  } finally {
    await store.close().catch(() => undefined);
    await db.drop();
  }
}

export const emmettRebuild: Scenario = {
  name: "emmett-rebuild",
  description: "rebuild of the orders read model from the whole log: our `replay orders` (CLI, service serving) vs. Emmett's rebuildPostgreSQLProjections (pongo document projection), same seeded history",
  async run(options) {
    const events = options.smoke ? options.events : Math.min(options.events, MAX_EVENTS);
    const measurements: Measurement[] = [];
    const comparisons: Comparison[] = [];
    const target = await startTarget(options, events);
    try {
      await waitForProjections(target, options.smoke ? 120 : 1800);
      await settleReadSide(target, options.log);
      const run = await runReplay(target, "orders", options.smoke ? 120 : 1800);
      if (run.code !== 0 || run.replayed === null) throw new Error(`replay orders failed (exit ${run.code}): ${run.output.slice(-500)}`);
      const { seconds, events: replayed, version } = run.replayed;
      measurements.push({
        label: "replay orders", role: "subject", connections: null, durationS: seconds, operations: replayed,
        throughput: Math.round(replayed / Math.max(seconds, 0.001)), unit: "event", latencyMs: null, errors: 0,
        peakRssBytes: run.peakRssBytes, rssOf: "cli child (includes process start)",
        notes: `npm run cli -- replay orders into v${version} while the service serves; rows, Redis views and customer lists; CLI-reported ${seconds} s`,
      });
    } finally {
      await target.stop();
    }
    // The same history as ours: the size the target was seeded with (--products included).
    const emmett = await measureEmmettRebuild(options, target.size);
    measurements.push(emmett.measurement);
    const c = compare(measurements, "replay orders", "emmett rebuild orders");
    if (c) comparisons.push(c);
    return { params: { events, size: target.size, emmettEvents: emmett.appended, emmettDocuments: emmett.documents, plannedOrders: target.size.orders }, measurements, comparisons };
  },
};
