/**
 * Prepared views kept in process memory, coherent with Redis by server-assisted client-side
 * caching (Redis 6+ `CLIENT TRACKING`): a hot read whose view is here is answered with no
 * Redis round trip, and Redis tells this process whenever a key it read changes, whoever
 * changed it (this process's projection workers or another process's).
 *
 * Two connections of its own: `reader` reads views with tracking on, its invalidations
 * redirected to `listener`, which is subscribed to `__redis__:invalidate` (RESP2 redirect
 * mode; ioredis speaks RESP2). Correctness rests on three rules:
 * - A value read from Redis is kept only if no invalidation of its key arrived between the
 *   moment the read was registered (before it was sent) and its answer. Redis sends an
 *   invalidation for every change after the read executed, so a value kept is replaced or
 *   dropped as soon as its key changes.
 * - Anything that may lose an invalidation (either connection closing, tracking not yet
 *   confirmed on the current pair of connections, a flush of the Redis database) drops every
 *   value and every read in flight from being kept, and the cache serves nothing until
 *   tracking is confirmed again; reads meanwhile go to Redis as before.
 * - Absence is kept like a value (Redis tracks a key read while absent and reports its
 *   creation), so a view without a precomputed gzip costs no round trip either.
 *
 * The cache is bounded by bytes, least recently used first out. Reads that must reflect a
 * given position (X-Consistent-With) bypass it: an invalidation may still be on its way
 * when the projection's progress is announced.
 */
import { Redis } from "ioredis";
import { getViews } from "./view_batch.ts";

export interface ViewCacheOptions {
  url: string;
  /** The key prefix of the query client (keys are given without it, as to that client). */
  keyPrefix: string;
  /** Most bytes of values kept (keys not counted). */
  maxBytes: number;
  /** Told when tracking is (re)established or lost, for logs. */
  onState?: (live: boolean, reason: string) => void;
  /** How keys missing from memory are read on the tracked connection (default: the batched MGET); tests delay answers with it. */
  readViews?: (redis: Redis, keys: readonly string[]) => Promise<Array<Buffer | null>>;
}

export interface ViewCacheStats {
  hits: number;
  misses: number;
  invalidations: number;
  flushes: number;
  entries: number;
  bytes: number;
}

const INVALIDATE_CHANNEL = "__redis__:invalidate";

/** Bytes an absent key counts for in the budget. */
const ABSENT_COST = 64;

function cost(value: Buffer | null): number {
  return value === null ? ABSENT_COST : value.length;
}

/** A read from Redis that may keep its values: not if voided by an invalidation or a loss since it was registered. */
interface PendingRead {
  generation: number;
  voided: boolean;
}

export class ViewCache {
  readonly #reader: Redis;
  readonly #listener: Redis;
  readonly #prefix: string;
  readonly #maxBytes: number;
  readonly #onState: ViewCacheOptions["onState"];
  readonly #readViews: NonNullable<ViewCacheOptions["readViews"]>;
  /** Full key (with prefix) → value; Map order is recency (a hit moves its key to the end). */
  #entries = new Map<string, Buffer | null>();
  #bytes = 0;
  /** Full key → reads of it in flight. */
  #pending = new Map<string, Set<PendingRead>>();
  /** The listener connection's id once subscribed (null after it reconnects). */
  #listenerId: number | null = null;
  /** Bumped whenever invalidations may have been lost: reads started before may not be kept. */
  #generation = 0;
  #live = false;
  #establishing: Promise<void> | null = null;
  #closed = false;
  #stats = { hits: 0, misses: 0, invalidations: 0, flushes: 0 };

  constructor(options: ViewCacheOptions) {
    this.#prefix = options.keyPrefix;
    this.#maxBytes = options.maxBytes;
    this.#onState = options.onState;
    this.#readViews = options.readViews ?? getViews;
    const common = { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1000, retryStrategy: (times: number) => Math.min(times * 200, 1000) };
    this.#reader = new Redis(options.url, { ...common, keyPrefix: options.keyPrefix });
    // Re-subscribed by hand after a reconnect: the redirect needs the new connection's id first.
    this.#listener = new Redis(options.url, { ...common, autoResubscribe: false });
    for (const client of [this.#reader, this.#listener]) {
      client.on("error", () => undefined);
      client.on("close", () => this.#lose("connection closed"));
      client.on("ready", () => void this.#establish());
    }
    this.#listener.on("close", () => {
      this.#listenerId = null;
    });
    this.#listener.on("messageBuffer", (channel: Buffer, message: unknown) => {
      if (channel.toString() !== INVALIDATE_CHANNEL) return;
      // An array of keys; null when the whole database was flushed.
      if (!Array.isArray(message)) {
        this.#lose("database flushed");
        void this.#establish();
        return;
      }
      for (const key of message as Buffer[]) this.#invalidate(key.toString());
    });
  }

  /** Connects both connections and turns tracking on; resolves (live or not) without throwing. */
  async start(): Promise<void> {
    await Promise.allSettled([this.#reader.connect(), this.#listener.connect()]);
    await this.#establish();
  }

  /** True while tracking is confirmed: values here are current up to invalidations in flight. */
  get live(): boolean {
    return this.#live;
  }

  /** The id of the connection invalidations are redirected to (null until subscribed); for diagnostics and tests. */
  get listenerId(): number | null {
    return this.#listenerId;
  }

  stats(): ViewCacheStats {
    return { ...this.#stats, entries: this.#entries.size, bytes: this.#bytes };
  }

  /**
   * The values of all `keys` when every one is in the copy (null: known absent), else null
   * and nothing changes. Synchronous: for answers sent in the same turn (the hot reads'
   * fast path); a miss goes the usual way (get()).
   */
  peek(keys: readonly string[]): Array<Buffer | null> | null {
    if (!this.#live) return null;
    const values = new Array<Buffer | null>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const value = this.#entries.get(this.#prefix + keys[i]!);
      if (value === undefined) return null;
      values[i] = value;
    }
    for (let i = 0; i < keys.length; i++) this.#touch(this.#prefix + keys[i]!, values[i]!);
    this.#stats.hits += keys.length;
    return values;
  }

  /**
   * The values of the keys (null when absent), from memory where kept, else from Redis in
   * one batched MGET on the tracked connection. Rejects when that read fails.
   */
  async get(keys: readonly string[]): Promise<{ values: Array<Buffer | null>; fromMemory: boolean }> {
    const values: Array<Buffer | null> = new Array<Buffer | null>(keys.length).fill(null);
    const missing: string[] = [];
    const at: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const full = this.#prefix + keys[i]!;
      const value = this.#live ? this.#entries.get(full) : undefined;
      if (value === undefined) {
        missing.push(keys[i]!);
        at.push(i);
        continue;
      }
      values[i] = value;
      this.#touch(full, value);
    }
    this.#stats.hits += keys.length - missing.length;
    if (missing.length === 0) return { values, fromMemory: true };
    this.#stats.misses += missing.length;
    // Registered before the read is sent: an invalidation from now on voids it.
    const read: PendingRead | null = this.#live ? { generation: this.#generation, voided: false } : null;
    if (read) for (const key of missing) this.#register(this.#prefix + key, read);
    try {
      const answers = await this.#readViews(this.#reader, missing);
      for (let j = 0; j < missing.length; j++) {
        const value = answers[j] ?? null;
        values[at[j]!] = value;
        if (read && !read.voided && read.generation === this.#generation && this.#live) this.#keep(this.#prefix + missing[j]!, value);
      }
      return { values, fromMemory: false };
    } finally {
      if (read) for (const key of missing) this.#unregister(this.#prefix + key, read);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#lose("closed");
    this.#reader.disconnect();
    this.#listener.disconnect();
  }

  #register(full: string, read: PendingRead): void {
    let reads = this.#pending.get(full);
    if (reads === undefined) this.#pending.set(full, (reads = new Set()));
    reads.add(read);
  }

  #unregister(full: string, read: PendingRead): void {
    const reads = this.#pending.get(full);
    if (reads === undefined) return;
    reads.delete(read);
    if (reads.size === 0) this.#pending.delete(full);
  }

  /** Marks a kept value most recently used (Map order is recency: it moves to the end). */
  #touch(full: string, value: Buffer | null): void {
    this.#entries.delete(full);
    this.#entries.set(full, value);
  }

  /** Removes a kept value, if any. */
  #remove(full: string): void {
    const old = this.#entries.get(full);
    if (old === undefined) return;
    this.#entries.delete(full);
    this.#bytes -= cost(old);
  }

  #keep(full: string, value: Buffer | null): void {
    if (cost(value) > this.#maxBytes) return;
    this.#remove(full);
    this.#entries.set(full, value);
    this.#bytes += cost(value);
    // Least recently used first out.
    for (const [key, evicted] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(key);
      this.#bytes -= cost(evicted);
    }
  }

  #invalidate(full: string): void {
    this.#stats.invalidations++;
    this.#remove(full);
    // A read of the key in flight may carry the value from before the change: not kept.
    // (A read whose value is voided this way is still answered: it was current when read.)
    const reads = this.#pending.get(full);
    if (reads !== undefined) {
      for (const read of reads) read.voided = true;
      this.#pending.delete(full);
    }
  }

  /** Invalidations may have been lost: forget everything, keep nothing read before now. */
  #lose(reason: string): void {
    this.#generation++;
    if (this.#entries.size > 0) this.#stats.flushes++;
    this.#entries.clear();
    this.#bytes = 0;
    this.#pending.clear();
    if (this.#live) {
      this.#live = false;
      this.#onState?.(false, reason);
    }
  }

  /** (Re)subscribes the listener and redirects the reader's tracking to it; live when both answered on unchanged connections. */
  #establish(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#establishing) return this.#establishing.then(() => (this.#live || this.#closed ? undefined : this.#establish()));
    this.#establishing = (async () => {
      if (this.#reader.status !== "ready" || this.#listener.status !== "ready") return;
      this.#lose("re-establishing tracking");
      const generation = this.#generation;
      try {
        if (this.#listenerId === null) {
          const id = (await this.#listener.call("CLIENT", "ID")) as number;
          await this.#listener.subscribe(INVALIDATE_CHANNEL);
          this.#listenerId = id;
        }
        const id = this.#listenerId;
        await this.#reader.call("CLIENT", "TRACKING", "OFF");
        await this.#reader.call("CLIENT", "TRACKING", "ON", "REDIRECT", String(id));
        if (generation !== this.#generation || this.#closed) return;
        this.#live = true;
        this.#onState?.(true, "tracking on");
      } catch {
        // A connection failed meanwhile: its "ready" after reconnecting establishes again.
      }
    })().finally(() => {
      this.#establishing = null;
    });
    return this.#establishing;
  }
}
