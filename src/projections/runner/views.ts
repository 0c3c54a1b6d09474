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

/** Writes view operations in one pipeline; false when Redis is unreachable or a command failed. */
export async function writeViews(redis: Redis, ops: readonly ViewOp[]): Promise<boolean> {
  if (ops.length === 0) return true;
  if (redis.status !== "ready") return false;
  try {
    const pipeline = redis.pipeline();
    queueViewOps(pipeline, ops);
    const results = (await pipeline.exec()) ?? [];
    return results.every(([error]) => error === null);
  } catch {
    return false;
  }
}
