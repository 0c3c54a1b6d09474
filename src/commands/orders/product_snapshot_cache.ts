/**
 * A bounded in-process cache of what order placement needs of a product, each entry with
 * the product stream's version it was folded from. Entries may be stale at any time (other
 * processes change products): placement appends with a guard on those versions, so a
 * stale entry costs a retry, never a wrong order. Least recently used entries go first.
 * A Map in insertion order is the whole LRU; no package needed for a get/set/delete cache.
 */
import type { ProductSnapshot } from "./decide.ts";

/** A product snapshot and the version of the product stream it was folded from (≥ 1). */
export interface VersionedProduct {
  version: number;
  snapshot: ProductSnapshot;
}

/** The default number of products kept. */
export const DEFAULT_PRODUCT_CACHE_SIZE = 10_000;

export class ProductSnapshotCache {
  readonly capacity: number;
  #entries = new Map<string, VersionedProduct>();

  constructor(capacity = DEFAULT_PRODUCT_CACHE_SIZE) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`ProductSnapshotCache needs a capacity ≥ 1, got ${capacity}`);
    this.capacity = capacity;
  }

  /** The cached entry, marked as most recently used; undefined when absent. */
  get(productId: string): VersionedProduct | undefined {
    const entry = this.#entries.get(productId);
    if (entry !== undefined) {
      this.#entries.delete(productId);
      this.#entries.set(productId, entry);
    }
    return entry;
  }

  /** Stores an entry unless a newer version is cached (a slow reader never overwrites a fresher one); evicts the least recently used. */
  set(productId: string, entry: VersionedProduct): void {
    const current = this.#entries.get(productId);
    if (current !== undefined && current.version > entry.version) return;
    this.#entries.delete(productId);
    this.#entries.set(productId, entry);
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }

  /** Forgets a product (its stream moved past the cached version). */
  delete(productId: string): void {
    this.#entries.delete(productId);
  }

  /** Number of cached products. */
  get size(): number {
    return this.#entries.size;
  }
}

/** Creates an empty cache holding at most `capacity` products. */
export function createProductSnapshotCache(capacity = DEFAULT_PRODUCT_CACHE_SIZE): ProductSnapshotCache {
  return new ProductSnapshotCache(capacity);
}
