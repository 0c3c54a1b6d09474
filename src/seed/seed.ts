/**
 * Seeds an event store with a realistic, deterministic commerce history: a catalog in
 * 20 categories with price/detail/stock changes and discontinuations, then orders by
 * many customers over ~90 days of business time, with Zipf-skewed product popularity,
 * through every state. Written through `EventStore.append`, one multi-event append per
 * stream, with bounded concurrency.
 */
import type { EventStore, NewEvent } from "../event_store/types.ts";
import { streams } from "../shared/events.ts";
import { runBounded } from "./bounded.ts";
import { DAY_MS, EXPECTED_EVENTS_PER_PRODUCT, planCatalog, type Catalog } from "./catalog.ts";
import { EXPECTED_EVENTS_PER_ORDER, planOrders } from "./orders.ts";
import { createRandom } from "./prng.ts";

/** The store already holds part of what a seed would append. */
export class SeedConflictError extends Error {}

export interface SeedSize {
  products: number;
  orders: number;
  customers: number;
  /** PRNG seed; default 1. */
  seed?: number;
}

export interface SeedOptions extends SeedSize {
  onProgress?: (done: number, total: number) => void;
  /** Appends in flight at once; default 16 (keep at or below the store's pool size). */
  concurrency?: number;
  /** First instant of business time (ISO); default 2026-08-01T00:00:00.000Z. */
  startAt?: string;
  /** Length of the business-time window in days; default 90. */
  days?: number;
}

/** Default first instant of the synthetic business time. */
export const DEFAULT_SEED_START = "2026-08-01T00:00:00.000Z";

/** Resolves the business-time window the seeder uses for these options. */
export function seedWindow(options: Pick<SeedOptions, "startAt" | "days">): { startMs: number; spanMs: number } {
  return { startMs: Date.parse(options.startAt ?? DEFAULT_SEED_START), spanMs: (options.days ?? 90) * DAY_MS };
}

/** Plans the catalog exactly as `seed` does (for callers that need product ids or skus without reading the store). */
export function seedCatalog(options: SeedSize & Pick<SeedOptions, "startAt" | "days">): Catalog {
  return planCatalog({ products: options.products, seed: options.seed ?? 1, ...seedWindow(options) });
}

/** Estimates how many events `seed` appends for these sizes (within a few percent for non-tiny sizes). */
export function seedEventCount(options: SeedSize): number {
  return Math.round(options.products * EXPECTED_EVENTS_PER_PRODUCT + options.orders * EXPECTED_EVENTS_PER_ORDER * 0.99);
}

/** Chooses sizes that make `seed` append about `events` events: ~1 product per 200 events, ~4 orders per customer. */
export function seedSizeForEvents(events: number, seed = 1): Required<SeedSize> {
  const products = Math.max(20, Math.round(events / 200));
  const orders = Math.max(1, Math.round((events - products * EXPECTED_EVENTS_PER_PRODUCT) / (EXPECTED_EVENTS_PER_ORDER * 0.99)));
  return { products, orders, customers: Math.max(1, Math.round(orders / 4)), seed };
}

/** Appends the seeded history; resolves with the number of events appended. Streams must not exist yet. */
export async function seed(store: EventStore, options: SeedOptions): Promise<{ events: number }> {
  const seedValue = options.seed ?? 1;
  const window = seedWindow(options);
  const catalog = planCatalog({ products: options.products, seed: seedValue, ...window });
  const ids = createRandom(seedValue, "correlation");
  const productEvents = catalog.products.reduce((sum, product) => sum + 1 + product.events.length, 0);
  const total = productEvents + Math.round(options.orders * EXPECTED_EVENTS_PER_ORDER * 0.99);
  const step = Math.max(1, Math.floor(total / 200));
  let done = 0;
  let reported = 0;
  const progress = (count: number): void => {
    done += count;
    if (options.onProgress && done - reported >= step) {
      reported = done;
      options.onProgress(done, Math.max(total, done));
    }
  };
  const iso = (ms: number): string => new Date(ms).toISOString();
  const concurrency = options.concurrency ?? 16;

  // A catalog with a sku already in the store (a seed run before, any --seed: the skus are
  // made from the category and the product's number) would fail partway, after appending
  // part of the history: refuse before appending anything.
  for (let i = 0; i < catalog.products.length; i += 1000) {
    const taken = [...(await store.readStreams(catalog.products.slice(i, i + 1000).map((product) => streams.sku(product.sku)))).entries()].filter(([, read]) => read.version > 0);
    if (taken.length > 0) {
      throw new SeedConflictError(`the store already holds products with the seed's skus (${taken[0]![0]} and ${taken.length - 1} more in the first check): seed into an empty database`);
    }
  }

  // Products first (sku reservation, then the product's whole history in one append), so
  // every product precedes the orders that name it in the global order.
  const productJobs = catalog.products.map((product) => ({ product, correlationId: ids.uuid(), later: product.events.slice(1).map(() => ids.uuid()) }));
  await runBounded(productJobs, concurrency, async ({ product, correlationId, later }) => {
    const createdAt = iso(product.createdAtMs);
    await store.append(streams.sku(product.sku), [
      { type: "SkuReserved", data: { sku: product.sku, productId: product.id }, metadata: { occurredAt: createdAt, correlationId, causationId: null } },
    ], { expectedVersion: "no_stream" });
    const events: NewEvent[] = product.events.map(({ event, atMs }, i) => ({
      type: event.type,
      data: event.data,
      metadata: { occurredAt: iso(atMs), correlationId: i === 0 ? correlationId : later[i - 1]!, causationId: null },
    }));
    await store.append(streams.product(product.id), events, { expectedVersion: "no_stream" });
    progress(1 + events.length);
  });

  await runBounded(planOrders(catalog, { orders: options.orders, customers: options.customers, seed: seedValue, ...window }), concurrency, async (order) => {
    const events: NewEvent[] = order.events.map(({ event, atMs, correlationId }) => ({
      type: event.type,
      data: event.data,
      metadata: { occurredAt: iso(atMs), correlationId, causationId: null },
    }));
    await store.append(streams.order(order.id), events, { expectedVersion: "no_stream" });
    progress(events.length);
  });
  options.onProgress?.(done, done);
  return { events: done };
}
