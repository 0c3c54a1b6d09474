/**
 * One replay per projection across processes: a session advisory lock (its own lock
 * class, so it never blocks the live leader) held on a dedicated connection for the
 * whole replay. It vanishes with the connection, so a killed replay frees it.
 */
import type { Pool } from "../../db/pool.ts";
import { advisoryLockHeld, lockConnection, TRY_LOCK_SQL } from "./advisory_lock.ts";
import { ConflictError } from "../../shared/errors.ts";

/** Advisory lock class for replays (first key of the two-key form). */
export const REPLAY_LOCK_CLASS = 7_412_904;

/** Raised (409 over HTTP) when a replay of the projection is already running somewhere. */
export class ReplayRunningError extends ConflictError {
  constructor(projection: string) {
    super(`A replay of projection ${projection} is already running`);
  }
}

/** A held replay lock; `lost` aborts when its connection drops. */
export interface ReplayLock {
  lost: AbortSignal;
  release(): Promise<void>;
}

/** Takes the projection's replay lock or throws ReplayRunningError. */
export async function acquireReplayLock(connectionString: string, projection: string): Promise<ReplayLock> {
  const { client, lost } = lockConnection(connectionString, `projection-replay-${process.pid}`);
  await client.connect();
  let locked = false;
  try {
    const result = await client.query<{ locked: boolean }>(TRY_LOCK_SQL, [REPLAY_LOCK_CLASS, projection]);
    locked = result.rows[0]?.locked === true;
  } finally {
    if (!locked) await client.end().catch(() => undefined);
  }
  if (!locked) throw new ReplayRunningError(projection);
  return {
    lost: lost.signal,
    async release() {
      await client.end().catch(() => undefined);
    },
  };
}

/** True when some session (in any process) runs a replay of the projection. */
export function replayRunning(pool: Pool, projection: string): Promise<boolean> {
  return advisoryLockHeld(pool, REPLAY_LOCK_CLASS, projection);
}
