/**
 * Whether a read should try Redis now. The query client has a command timeout, so a Redis
 * that stopped answering without closing its connections (a paused process, a stalled
 * host) costs a read that timeout once; after a timeout, reads go straight to PostgreSQL
 * for SUSPEND_MS before trying Redis again, so a hung Redis does not add that wait to every
 * read.
 */
import type { Redis } from "ioredis";

/** How long reads skip Redis after one of its commands timed out. */
export const SUSPEND_MS = 1000;

const suspendedUntil = new WeakMap<Redis, number>();

/** True when the client is connected and not suspended after a timeout. */
export function redisUsable(redis: Redis | null): redis is Redis {
  return redis !== null && redis.status === "ready" && (suspendedUntil.get(redis) ?? 0) <= performance.now();
}

/** Records a failed Redis read: a timeout suspends Redis reads for SUSPEND_MS. */
export function redisReadFailed(redis: Redis, error: unknown): void {
  if (error instanceof Error && /timed out/i.test(error.message)) suspendedUntil.set(redis, performance.now() + SUSPEND_MS);
}
