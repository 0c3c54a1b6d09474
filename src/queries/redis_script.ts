/**
 * Runs a Lua script by its SHA1 (EVALSHA: the script text is not sent on every call), and
 * loads it with EVAL when Redis does not have it yet (a fresh or restarted server). Buffers
 * in the reply stay buffers.
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

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
