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

/**
 * How long reads skip Redis after the query client connects again (not the first time): a
 * Redis that restarted may hold an older snapshot's views, which look complete; the leader of
 * each projection tells by Redis's new run_id within its next check (every second) and drops
 * them, and reads meanwhile come from the rows. A fault audit read stale views for 1.3-1.9 s
 * after such a restart before this.
 */
export const RECONNECT_SUSPEND_MS = 3000;

/** Suspends Redis reads for RECONNECT_SUSPEND_MS whenever the client reconnects after losing its connection. */
export function suspendReadsOnReconnect(redis: Redis): void {
  let connectedBefore = false;
  redis.on("ready", () => {
    if (connectedBefore) suspendedUntil.set(redis, performance.now() + RECONNECT_SUSPEND_MS);
    connectedBefore = true;
  });
}

/** Records a failed Redis read: a timeout suspends Redis reads for SUSPEND_MS. */
export function redisReadFailed(redis: Redis, error: unknown): void {
  if (error instanceof Error && /timed out/i.test(error.message)) suspendedUntil.set(redis, performance.now() + SUSPEND_MS);
}
