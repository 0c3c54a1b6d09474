/**
 * Redis view writes: a pipeline of absolute operations (SET, DEL, ZADD with absolute
 * scores, ZREM, HSET, HDEL), never increments, so repeating them is harmless.
 */
import type { ChainableCommander, Redis } from "ioredis";
import type { ViewOp } from "../define.ts";

/** Adds view operations to a pipeline. */
export function queueViewOps(pipeline: ChainableCommander, ops: readonly ViewOp[]): void {
  for (const op of ops) {
    switch (op.op) {
      case "set":
        pipeline.set(op.key, op.value);
        break;
      case "del":
        pipeline.del(op.key);
        break;
      case "zadd":
        pipeline.zadd(op.key, op.score, op.member);
        break;
      case "zrem":
        pipeline.zrem(op.key, op.member);
        break;
      case "hset":
        pipeline.hset(op.key, op.field, op.value);
        break;
      case "hdel":
        pipeline.hdel(op.key, op.field);
        break;
      default: {
        const unhandled: never = op;
        throw new Error(`Unknown view op ${JSON.stringify(unhandled)}`);
      }
    }
  }
}

/**
 * Writes view operations as one transaction (MULTI/EXEC, one round trip): a reader never
 * sees part of a task's views, e.g. a product left one list set and not yet in the next.
 * False when Redis is unreachable or a command failed.
 */
export async function writeViews(redis: Redis, ops: readonly ViewOp[]): Promise<boolean> {
  if (ops.length === 0) return true;
  if (redis.status !== "ready") return false;
  try {
    const pipeline = redis.multi();
    queueViewOps(pipeline, ops);
    const results = (await pipeline.exec()) ?? [];
    return results.every(([error]) => error === null);
  } catch {
    return false;
  }
}

/** Slots a SCAN step of unlinkMatching visits (and so, at most, keys it unlinks at once). */
const UNLINK_STEP = 1000;

/**
 * Unlinks every key matching the SCAN patterns and the exact `keys` (all given without the
 * client's key prefix), on one connection without the prefix; returns how many were removed.
 */
export async function unlinkMatching(redis: Redis, patterns: readonly string[], keys: readonly string[] = []): Promise<number> {
  const prefix = redis.options.keyPrefix ?? "";
  const plain = redis.duplicate({ keyPrefix: "", enableOfflineQueue: true, maxRetriesPerRequest: 2 });
  let deleted = 0;
  try {
    for (const pattern of patterns) {
      // A pattern with no glob character names one key: no scan of the whole key space.
      if (!/[*?[\\]/.test(pattern)) {
        deleted += await plain.unlink(`${prefix}${pattern}`);
        continue;
      }
      let cursor = "0";
      do {
        // Small steps: Redis runs one command at a time, and a SCAN of 10,000 slots with an
        // UNLINK of what it found held it for several ms each, beside live reads (dropping an
        // old version after a replay walks millions of keys).
        const [next, found] = await plain.scan(cursor, "MATCH", `${prefix}${pattern}`, "COUNT", UNLINK_STEP);
        cursor = next;
        if (found.length > 0) deleted += await plain.unlink(...found);
      } while (cursor !== "0");
    }
    if (keys.length > 0) deleted += await plain.unlink(...keys.map((key) => `${prefix}${key}`));
  } finally {
    plain.disconnect();
  }
  return deleted;
}
