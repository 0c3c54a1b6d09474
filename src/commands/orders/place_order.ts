/**
 * Order placement: each line takes its product's current sku, name, category, price and
 * currency, read from the product's stream. Products in the cache are not read again: the
 * order is appended with a guard on the product streams' versions it was decided from, so
 * with every product cached a placement is one round trip (the append), and a product
 * changed by any process since it was cached fails the guard: its entry is dropped, the
 * product re-read and the order decided again. After a few stale guards in a row the
 * placement reads every product and appends without a guard, as it did before the cache.
 */
import type { EventMetadata, EventStore, IdempotencyRecord, StreamGuard } from "../../event_store/types.ts";
import { StaleGuardError, UnprocessableError } from "../../shared/errors.ts";
import { streams } from "../../shared/events.ts";
import { fold, handle, type CommandResult } from "../handle.ts";
import { productDecider } from "../products/decide.ts";
import { orderDecider, type OrderCommand, type ProductSnapshot } from "./decide.ts";
import type { ProductSnapshotCache, VersionedProduct } from "./product_snapshot_cache.ts";

/** Guarded attempts before a placement falls back to reading every product. */
const GUARDED_ATTEMPTS = 3;

export interface PlaceOrderInput {
  store: EventStore;
  products: ProductSnapshotCache;
  orderId: string;
  customerId: string;
  lines: readonly { productId: string; quantity: number }[];
  metadata: EventMetadata;
  idempotency?: IdempotencyRecord | undefined;
}

/** Reads the named products' streams (one round trip) as snapshots with their versions; null for a product that does not exist. */
export async function readProducts(store: EventStore, productIds: readonly string[]): Promise<Map<string, VersionedProduct | null>> {
  const reads = await store.readStreams(productIds.map(streams.product));
  const products = new Map<string, VersionedProduct | null>();
  for (const productId of productIds) {
    const read = reads.get(streams.product(productId));
    const state = fold(productDecider, read?.events ?? []);
    if (state.status === "none" || read === undefined) products.set(productId, null);
    else {
      const { status, sku, name, category, priceCents, currency } = state;
      products.set(productId, { version: read.version, snapshot: { status, sku, name, category, priceCents, currency } });
    }
  }
  return products;
}

/** Caches what was read; forgets products that read as absent (never cached as absent). */
function remember(cache: ProductSnapshotCache, read: ReadonlyMap<string, VersionedProduct | null>): void {
  for (const [productId, entry] of read) {
    if (entry === null) cache.delete(productId);
    else cache.set(productId, entry);
  }
}

function placeCommand(input: PlaceOrderInput, products: ReadonlyMap<string, ProductSnapshot | null>): OrderCommand {
  return { type: "PlaceOrder", data: { orderId: input.orderId, customerId: input.customerId, lines: input.lines, products } };
}

function appendOrder(input: PlaceOrderInput, command: OrderCommand, guard?: readonly StreamGuard[]): Promise<CommandResult> {
  const { store, orderId, metadata, idempotency } = input;
  return handle({ store, streamId: streams.order(orderId), decider: orderDecider, command, mode: "create", ifMatch: null, metadata, idempotency, guard, label: "Order" });
}

/**
 * Places an order (409 when the id exists, 422 for an unknown or discontinued product or
 * mixed currencies), deciding from products no older than the last change committed
 * before the append. A 422 decided from cached products is answered only after a read
 * shows those products unchanged.
 */
export async function placeOrder(input: PlaceOrderInput): Promise<CommandResult> {
  const { store, products: cache } = input;
  const productIds = [...new Set(input.lines.map((line) => line.productId))];
  for (let attempt = 1; attempt <= GUARDED_ATTEMPTS; attempt++) {
    const cached = new Map<string, VersionedProduct>();
    const missing: string[] = [];
    for (const productId of productIds) {
      const entry = cache.get(productId);
      if (entry === undefined) missing.push(productId);
      else cached.set(productId, entry);
    }
    const read = missing.length > 0 ? await readProducts(store, missing) : new Map<string, VersionedProduct | null>();
    remember(cache, read);
    const products = new Map<string, ProductSnapshot | null>();
    const guard: StreamGuard[] = [];
    const productOfStream = new Map<string, string>();
    for (const productId of productIds) {
      const entry = cached.get(productId) ?? read.get(productId) ?? null;
      products.set(productId, entry?.snapshot ?? null);
      if (entry === null) continue; // decide answers 422: nothing is appended, no guard needed
      guard.push({ streamId: streams.product(productId), version: entry.version });
      productOfStream.set(streams.product(productId), productId);
    }
    try {
      return await appendOrder(input, placeCommand(input, products), guard);
    } catch (error) {
      if (error instanceof StaleGuardError) {
        for (const streamId of error.staleStreamIds) cache.delete(productOfStream.get(streamId) ?? streamId);
        continue;
      }
      if (!(error instanceof UnprocessableError) || cached.size === 0) throw error;
      // Decided from cached products: answer 422 only if they are still at the cached versions.
      const fresh = await readProducts(store, [...cached.keys()]);
      remember(cache, fresh);
      if ([...cached].every(([productId, entry]) => fresh.get(productId)?.version === entry.version)) throw error;
    }
  }
  // The products keep changing under the guard: read them all and append without one (the pre-cache path).
  const read = await readProducts(store, productIds);
  remember(cache, read);
  const products = new Map([...read].map(([productId, entry]) => [productId, entry?.snapshot ?? null]));
  return appendOrder(input, placeCommand(input, products));
}
