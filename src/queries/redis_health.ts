/**
 * Whether a read should try Redis now. The query client has a command timeout, so a Redis
 * that stopped answering without closing its connections (a paused process, a stalled
 * host) costs a read that timeout once; after a timeout, reads go straight to PostgreSQL
 * for SUSPEND_MS before trying Redis again, so a hung Redis does not add that wait to every
 * read.
 */
import type { Redis } from "ioredis";
import type { Pool } from "../db/pool.ts";
import { redisRunId, servingViewsOnServer } from "../shared/redis_server.ts";
import { withTimeout } from "../shared/with_timeout.ts";

/** How long reads skip Redis after one of its commands timed out. */
export const SUSPEND_MS = 1000;

const suspendedUntil = new WeakMap<Redis, number>();

/** How many holds (holdReadsUntil) each client's reads are under. */
const holds = new WeakMap<Redis, number>();

/** True when the client is connected and not suspended after a timeout. */
export function redisUsable(redis: Redis | null): redis is Redis {
  return redis !== null && redis.status === "ready" && (suspendedUntil.get(redis) ?? 0) <= performance.now() && !holds.get(redis);
}

/**
 * Holds Redis reads (they come from the rows) until `settled()` answers true, asked every
 * `everyMs`, for `maxMs` at most: an ask that fails or outlasts the time left counts as not
 * settled. Ends early when `signal` aborts. Resolves when the hold ends: true when it settled.
 */
export async function holdReadsUntil(redis: Redis, settled: () => Promise<boolean>, options: { everyMs?: number; maxMs?: number; signal?: AbortSignal } = {}): Promise<boolean> {
  const { everyMs = 500, maxMs = 60_000, signal } = options;
  holds.set(redis, (holds.get(redis) ?? 0) + 1);
  const until = performance.now() + maxMs;
  try {
    while (!signal?.aborted) {
      const left = until - performance.now();
      if (left <= 0) return false;
      if (await withTimeout(settled(), left, () => new Error("no answer in time")).catch(() => false)) return true;
      await new Promise((resolve) => setTimeout(resolve, Math.min(everyMs, Math.max(0, until - performance.now()))));
    }
    return false;
  } finally {
    holds.set(redis, (holds.get(redis) ?? 1) - 1);
  }
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

/**
 * Whenever the client becomes ready (the first time included), holds Redis reads until the
 * serving views of `projections` are known to be this server run's (servingViewsOnServer): a
 * Redis that restarted while the service was down or unable to reach it, from an older
 * snapshot, holds views that look complete and are not, and its run_id is the only sign. A
 * reconnect to the run that passed last passes at once (one INFO, nothing asked of PostgreSQL,
 * which may be the thing that is down); another run once each leader has dropped its keys,
 * within a second or two. One hold at a time; it ends with `signal`. `onHeld` hears of holds
 * that did not pass at once: settled, or given up after `maxMs` (the reason: the stored
 * run_ids never matched, or PostgreSQL did not answer).
 */
export function holdReadsOnNewServer(
  redis: Redis,
  pool: Pool,
  options: { projections: readonly string[]; maxMs?: number; signal?: AbortSignal; onHeld?: (outcome: { settled: boolean; ms: number; failedAsks: number }) => void },
): void {
  let passed: string | null = null;
  let holding = false;
  redis.on("ready", () => {
    if (holding || options.signal?.aborted) return;
    holding = true;
    const started = performance.now();
    let asks = 0;
    let failedAsks = 0;
    const settled = async (): Promise<boolean> => {
      asks++;
      const runId = await redisRunId(redis);
      if (runId === null) return false;
      if (runId === passed) return true;
      try {
        if (!(await servingViewsOnServer(pool, runId, options.projections))) return false;
      } catch (error) {
        failedAsks++;
        throw error;
      }
      passed = runId;
      return true;
    };
    void holdReadsUntil(redis, settled, { maxMs: options.maxMs ?? 60_000, ...(options.signal ? { signal: options.signal } : {}) }).then((ok) => {
      holding = false;
      if ((asks > 1 || !ok) && !options.signal?.aborted) options.onHeld?.({ settled: ok, ms: Math.round(performance.now() - started), failedAsks });
    });
  });
}
