/**
 * Leadership: one active runner per projection across processes, by a PostgreSQL session
 * advisory lock held on a dedicated connection. The lock vanishes with the connection,
 * so when the leader's process dies a standby (retrying every second) takes over.
 */
import type { Logger } from "pino";
import type { Pool } from "../../db/pool.ts";
import { advisoryLockHeld, lockConnection, TRY_LOCK_SQL } from "./advisory_lock.ts";
import { sleep } from "./backoff.ts";

/** Advisory lock class for projection leadership (first key of the two-key form). */
export const LEADER_LOCK_CLASS = 7_412_903;

/**
 * Runs `lead` whenever this process holds the projection's lock, until `signal` aborts.
 * `lead` gets a signal that aborts when the lock connection is lost.
 */
export async function runWhileLeader(options: {
  connectionString: string;
  projection: string;
  signal: AbortSignal;
  logger: Logger;
  retryMs?: number;
  lead(leaderSignal: AbortSignal): Promise<void>;
  /** Called when an attempt to lead did not lead: the lock is held elsewhere, or the attempt failed. */
  notLeading?(): void;
}): Promise<void> {
  const { signal, logger, projection } = options;
  const retryMs = options.retryMs ?? 1000;
  /** Attempts that failed in a row: during an outage one warning, then one every 30 (the rest at debug). */
  let failing = 0;
  while (!signal.aborted) {
    const { client, lost } = lockConnection(options.connectionString, `projection-leader-${process.pid}`);
    try {
      await client.connect();
      while (!signal.aborted && !lost.signal.aborted) {
        const result = await client.query<{ locked: boolean }>(TRY_LOCK_SQL, [LEADER_LOCK_CLASS, projection]);
        if (result.rows[0]?.locked) break;
        options.notLeading?.();
        await sleep(retryMs, AbortSignal.any([signal, lost.signal]));
      }
      if (signal.aborted || lost.signal.aborted) continue;
      failing = 0;
      logger.info({ projection }, "leading projection");
      await options.lead(AbortSignal.any([signal, lost.signal]));
    } catch (error) {
      options.notLeading?.();
      if (!signal.aborted) {
        failing++;
        const level = failing === 1 || failing % 30 === 0 ? "warn" : "debug";
        logger[level]({ projection, error: (error as Error).message, attemptsFailed: failing }, "projection leadership interrupted; retrying");
      }
    } finally {
      await client.end().catch(() => undefined);
    }
    if (!signal.aborted) await sleep(retryMs, signal).catch(() => undefined);
  }
}

/** True when some session (in any process) holds the projection's leader lock. */
export function leaderExists(pool: Pool, projection: string): Promise<boolean> {
  return advisoryLockHeld(pool, LEADER_LOCK_CLASS, projection);
}
