/**
 * Which Redis server run holds the views. Redis gives each start of its server a new run_id;
 * each projection version stores the run_id its views were last seen on (projections.redis_run_id,
 * written by the version's leader: src/projections/runner/leader_session.ts). A server whose
 * run_id is not the stored one restarted since, maybe from an older snapshot whose views look
 * complete and are not; its leader drops that version's keys, then stores the new run_id.
 */
import type { Redis } from "ioredis";
import type { Pool } from "../db/pool.ts";

/** The server's run_id, or null when it does not answer. */
export async function redisRunId(redis: Redis): Promise<string | null> {
  const info = await redis.info("server").catch(() => "");
  return /^run_id:(\w+)/m.exec(info)?.[1] ?? null;
}

/**
 * True when the serving versions of the named projections have their views last seen on the
 * Redis server run `runId` (or on none yet: nothing to compare); false when one was seen on
 * another (its leader has not dropped that run's keys yet). Throws when PostgreSQL does not answer.
 */
export async function servingViewsOnServer(pool: Pool, runId: string, projections: readonly string[]): Promise<boolean> {
  const stored = await pool.query<{ redis_run_id: string }>(
    "SELECT p.redis_run_id FROM projection_active a JOIN projections p ON p.name = a.name AND p.version = a.version WHERE a.name = ANY($1::text[]) AND p.redis_run_id IS NOT NULL",
    [projections],
  );
  return stored.rows.every((row) => row.redis_run_id === runId);
}
