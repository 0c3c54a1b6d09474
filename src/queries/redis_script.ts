/**
 * Runs a Lua script by its SHA1 (EVALSHA: the script text is not sent on every call), and
 * loads it with EVAL when Redis does not have it yet (a fresh or restarted server). Buffers
 * in the reply stay buffers.
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { redisReadFailed, redisUsable } from "./redis_health.ts";

export interface RedisScript {
  source: string;
  sha: string;
}

/** A script and its SHA1. */
export function redisScript(source: string): RedisScript {
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}

/** Calls the script with KEYS (the client's key prefix is applied) and ARGV. */
export async function runScript(redis: Redis, script: RedisScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  try {
    return await redis.callBuffer("EVALSHA", script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
    return redis.callBuffer("EVAL", script.source, keys.length, ...keys, ...args);
  }
}

/**
 * Runs the script when Redis is usable; null when it is not (absent, not ready, suspended
 * after a timeout) or the call failed (a timeout suspends Redis reads: redis_health.ts).
 */
export async function tryScript(redis: Redis | null, script: RedisScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  if (!redisUsable(redis)) return null;
  try {
    return await runScript(redis, script, keys, args);
  } catch (error) {
    redisReadFailed(redis, error);
    return null;
  }
}
