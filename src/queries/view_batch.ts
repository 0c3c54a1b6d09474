/**
 * Batched view reads: every Redis GET for a prepared view issued during one turn of the
 * event loop goes out as one MGET in the check phase (setImmediate), so N concurrent
 * reads cost one command, one write and one reply instead of N. ioredis' auto-pipelining
 * flushes on process.nextTick, i.e. after each socket's callback, so it rarely batches
 * requests that arrive on different connections.
 */
import type { Redis } from "ioredis";

interface Waiter {
  at: number;
  count: number;
  resolve: (values: Array<Buffer | null>) => void;
  reject: (error: unknown) => void;
}

class ViewBatch {
  #redis: Redis;
  #keys: string[] = [];
  #waiters: Waiter[] = [];
  #scheduled = false;
  #flush = (): void => {
    const keys = this.#keys;
    const waiters = this.#waiters;
    this.#keys = [];
    this.#waiters = [];
    this.#scheduled = false;
    this.#redis.mgetBuffer(keys).then(
      (values) => {
        for (const waiter of waiters) waiter.resolve(values.slice(waiter.at, waiter.at + waiter.count));
      },
      (error: unknown) => {
        for (const waiter of waiters) waiter.reject(error);
      },
    );
  };

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  get(keys: readonly string[]): Promise<Array<Buffer | null>> {
    return new Promise((resolve, reject) => {
      this.#waiters.push({ at: this.#keys.length, count: keys.length, resolve, reject });
      for (const key of keys) this.#keys.push(key);
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#flush);
      }
    });
  }
}

const batches = new WeakMap<Redis, ViewBatch>();

/** The values of the keys (null when absent), read in the MGET of this event-loop turn; rejects when that MGET fails. */
export function getViews(redis: Redis, keys: readonly string[]): Promise<Array<Buffer | null>> {
  let batch = batches.get(redis);
  if (batch === undefined) batches.set(redis, (batch = new ViewBatch(redis)));
  return batch.get(keys);
}
