/**
 * Session advisory locks per projection (two-key form: a lock class and hashtext(name)),
 * held on a dedicated connection so they vanish with it: leadership and replays use them.
 */
import pg from "pg";
import type { Pool } from "../../db/pool.ts";

/** Tries the lock (class, projection) on the session; true when taken. */
export const TRY_LOCK_SQL = "SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked";

/** A dedicated connection for holding a lock; `lost` aborts when it errors or ends. Not yet connected. */
export function lockConnection(connectionString: string, applicationName: string): { client: pg.Client; lost: AbortController } {
  const client = new pg.Client({ connectionString, application_name: applicationName, keepAlive: true });
  const lost = new AbortController();
  client.on("error", (error) => lost.abort(error));
  // SQLSTATE 08006 (connection failure): callers retry it like any lost connection (isConnectionError).
  client.on("end", () => lost.abort(Object.assign(new Error(`${applicationName}: lock connection ended`), { code: "08006" })));
  return { client, lost };
}

/** True when some session (in any process) holds the lock (class, projection). */
export async function advisoryLockHeld(pool: Pool, lockClass: number, projection: string): Promise<boolean> {
  const result = await pool.query<{ held: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND classid = $1::int::oid AND objid = ((hashtext($2)::bigint + 4294967296) % 4294967296)::oid AND objsubid = 2) AS held`,
    [lockClass, projection],
  );
  return result.rows[0]?.held === true;
}
