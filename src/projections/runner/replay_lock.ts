/**
 * One replay per projection across processes: a session advisory lock (its own lock
 * class, so it never blocks the live leader) held on a dedicated connection for the
 * whole replay. It vanishes with the connection, so a killed replay frees it.
 */
import pg from "pg";
import type { Pool } from "../../db/pool.ts";
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
  const client = new pg.Client({ connectionString, application_name: `projection-replay-${process.pid}`, keepAlive: true });
  const lost = new AbortController();
  client.on("error", (error) => lost.abort(error));
  client.on("end", () => lost.abort(new Error("replay lock connection ended")));
  await client.connect();
  let locked = false;
  try {
    const result = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked", [REPLAY_LOCK_CLASS, projection]);
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
export async function replayRunning(pool: Pool, projection: string): Promise<boolean> {
  const result = await pool.query<{ held: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND classid = $1::int::oid AND objid = ((hashtext($2)::bigint + 4294967296) % 4294967296)::oid AND objsubid = 2) AS held`,
    [REPLAY_LOCK_CLASS, projection],
  );
  return result.rows[0]?.held === true;
}
