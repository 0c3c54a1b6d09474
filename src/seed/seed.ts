/**
 * Seeds an event store with a realistic, deterministic commerce history: a catalog in
 * 20 categories with price/detail/stock changes and discontinuations, then orders by
 * many customers over ~90 days of business time, with Zipf-skewed product popularity,
 * through every state. Written through `EventStore.append` in business-time order, one
 * event per append, with bounded concurrency (see seed()).
 */
import type { EventStore } from "../event_store/types.ts";
import { streams } from "../shared/events.ts";
import { runBounded } from "./bounded.ts";
import { DAY_MS, EXPECTED_EVENTS_PER_PRODUCT, planCatalog, type Catalog, type PlannedProduct } from "./catalog.ts";
import { EXPECTED_EVENTS_PER_ORDER, planOrders, type PlannedOrder } from "./orders.ts";
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
  /**
   * Appends in flight at once; default 64. The PostgreSQL store sends the appends queued
   * behind the ones running together (group commit), so they need no connection each: one
   * event per append, 200k events seeded at 4,430 events/s with 16, 7,013 with 64, 7,832 with 128.
   */
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
  const concurrency = options.concurrency ?? 64;

  // A catalog with a sku already in the store (a seed run before, any --seed: the skus are
  // made from the category and the product's number) would fail partway, after appending
  // part of the history: refuse before appending anything.
  for (let i = 0; i < catalog.products.length; i += 1000) {
    const taken = [...(await store.readStreams(catalog.products.slice(i, i + 1000).map((product) => streams.sku(product.sku)))).entries()].filter(([, read]) => read.version > 0);
    if (taken.length > 0) {
      throw new SeedConflictError(`the store already holds products with the seed's skus (${taken[0]![0]} and ${taken.length - 1} more in the first check): seed into an empty database`);
    }
  }

  // Every event in business-time order, one append per event, as a live store receives them:
  // an order's payment, shipment or cancellation comes hours or days after its placement,
  // with other orders and catalog changes in between. (A seed that appended each history
  // whole put an order's events side by side in the log, which flattered every consumer
  // that folds per row: a bulk build wrote each order once, where a real log makes it
  // write the order again at each later event.) Appends of one stream go one after another
  // (each names the version it expects), and an order waits for its products' creation, so
  // the log keeps the causal order concurrent appends could otherwise swap.
  const productCorrelations = catalog.products.map((product) => ({ correlationId: ids.uuid(), later: product.events.slice(1).map(() => ids.uuid()) }));
  const created = new Map<string, Promise<void>>();
  const tails = new Map<string, { last: Promise<void>; left: number }>();
  /** Appends after the stream's previous append (and `after`); the stream's entry goes once its last planned event is in. */
  const chained = (stream: string, count: number, append: () => Promise<unknown>, after: readonly Promise<void>[] = []): Promise<void> => {
    const tail = tails.get(stream);
    const previous = tail?.last;
    const done = (async () => {
      if (previous) await previous;
      if (after.length > 0) await Promise.all(after);
      await append();
    })();
    const entry = tail ?? { last: done, left: count };
    entry.last = done;
    entry.left--;
    if (entry.left === 0) tails.delete(stream);
    else if (!tail) tails.set(stream, entry);
    return done;
  };
  const orders = planOrders(catalog, { orders: options.orders, customers: options.customers, seed: seedValue, ...window });
  await runBounded(timeOrdered(catalog, orders), concurrency, async (item) => {
    if (item.kind === "product") {
      const { product } = item;
      const { correlationId, later } = productCorrelations[product.index]!;
      const { event, atMs } = product.events[item.index]!;
      const metadata = { occurredAt: iso(atMs), correlationId: item.index === 0 ? correlationId : later[item.index - 1]!, causationId: null };
      if (item.index === 0) {
        const creation = chained(streams.product(product.id), product.events.length, async () => {
          await store.append(streams.sku(product.sku), [
            { type: "SkuReserved", data: { sku: product.sku, productId: product.id }, metadata: { occurredAt: iso(product.createdAtMs), correlationId, causationId: null } },
          ], { expectedVersion: "no_stream" });
          await store.append(streams.product(product.id), [{ type: event.type, data: event.data, metadata }], { expectedVersion: "no_stream" });
        });
        created.set(product.id, creation);
        await creation;
        progress(2);
        return;
      }
      await chained(streams.product(product.id), product.events.length, () => store.append(streams.product(product.id), [{ type: event.type, data: event.data, metadata }], { expectedVersion: item.index }));
      progress(1);
      return;
    }
    const { order, index } = item;
    const { event, atMs, correlationId } = order.events[index]!;
    const after = event.type === "OrderPlaced" ? event.data.lines.map((line) => created.get(line.productId)!) : [];
    await chained(
      streams.order(order.id), order.events.length,
      () => store.append(streams.order(order.id), [{ type: event.type, data: event.data, metadata: { occurredAt: iso(atMs), correlationId, causationId: null } }], { expectedVersion: index === 0 ? "no_stream" : index }),
      after,
    );
    progress(1);
  });
  options.onProgress?.(done, done);
  return { events: done };
}

/** One append of the seed: a product's event (`index` 0: its creation, with the sku reservation) or an order's. */
type SeedItem = { kind: "product"; product: PlannedProduct; index: number; atMs: number } | { kind: "order"; order: PlannedOrder; index: number; atMs: number };

/**
 * The catalog's and the orders' events merged in business-time order (ties: catalog first,
 * then planning order). Orders come lazily in placement order; each one's later events wait
 * in a heap until their time, so memory holds the orders of the longest lifecycle (days), not
 * the whole history.
 */
export function* timeOrdered(catalog: Catalog, orders: Iterator<PlannedOrder>): Generator<SeedItem> {
  const productItems: SeedItem[] = catalog.products
    .flatMap((product) => product.events.map((event, index) => ({ kind: "product" as const, product, index, atMs: event.atMs })))
    .sort((a, b) => a.atMs - b.atMs || a.product.index - b.product.index || a.index - b.index);
  const heap = new MinHeap<SeedItem & { kind: "order" }>();
  let next = orders.next();
  let p = 0;
  for (;;) {
    const productAt = p < productItems.length ? productItems[p]!.atMs : Infinity;
    const heapAt = heap.peek()?.atMs ?? Infinity;
    const placedAt = next.done ? Infinity : next.value.events[0]!.atMs;
    // An order joins the heap before anything at or after its placement (catalog events at the same instant first).
    if (placedAt < productAt && placedAt <= heapAt) {
      const order = next.value as PlannedOrder;
      order.events.forEach((event, index) => heap.push({ kind: "order", order, index, atMs: event.atMs }));
      next = orders.next();
      continue;
    }
    if (productAt === Infinity && heapAt === Infinity) return;
    if (productAt <= heapAt) yield productItems[p++]!;
    else yield heap.pop()!;
  }
}

/** A binary min-heap by (atMs, insertion order). */
class MinHeap<T extends { atMs: number }> {
  readonly #items: { item: T; seq: number }[] = [];
  #seq = 0;

  peek(): T | undefined {
    return this.#items[0]?.item;
  }

  push(item: T): void {
    const items = this.#items;
    items.push({ item, seq: this.#seq++ });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined) return undefined;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let least = i;
        if (left < items.length && this.#less(items[left]!, items[least]!)) least = left;
        if (right < items.length && this.#less(items[right]!, items[least]!)) least = right;
        if (least === i) break;
        [items[i], items[least]] = [items[least]!, items[i]!];
        i = least;
      }
    }
    return top.item;
  }

  #less(a: { item: T; seq: number }, b: { item: T; seq: number }): boolean {
    return a.item.atMs < b.item.atMs || (a.item.atMs === b.item.atMs && a.seq < b.seq);
  }
}
