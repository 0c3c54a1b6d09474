/**
 * Dropping retired versions: once a replay switched a projection to a new version, the
 * old one is `retired` with a `drop_after` time (the grace period that lets requests in
 * flight finish on it). After that its tables, checkpoints and Redis keys are dropped and
 * the row is kept as `dropped` so that its number is never reused.
 */
import type { Redis } from "ioredis";
import type { Pool } from "../../db/pool.ts";
import { tableName, type ProjectionDefinition } from "../define.ts";
import { ident } from "./row_io.ts";
import { unlinkMatchingTogether } from "./views.ts";
import { sentinelKey } from "../../shared/read_models.ts";

/**
 * Deletes every Redis key of a projection version (`<prefix><name>:v<N>:*` and its sentinel),
 * in one SCAN pass with the other versions' deletions asked for at the same time.
 */
export async function dropVersionKeys(redis: Redis, projection: string, version: number): Promise<void> {
  await unlinkMatchingTogether(redis, [`${projection}:v${version}:*`], [sentinelKey(projection, version)]);
}

/** Drops one version's tables, checkpoints and Redis keys and marks it dropped. */
export async function dropVersion(options: { pool: Pool; redis: Redis | null; definition: ProjectionDefinition; version: number; tables: readonly string[] | null }): Promise<void> {
  const { pool, definition, version } = options;
  const tables = options.tables ?? definition.tables.map((model) => tableName(model.table, version));
  if (options.redis) await dropVersionKeys(options.redis, definition.name, version);
  for (const table of tables) await pool.query(`DROP TABLE IF EXISTS ${ident(table)}`);
  await pool.query("DELETE FROM projection_checkpoints WHERE projection = $1 AND version = $2", [definition.name, version]);
  await pool.query("UPDATE projections SET state = 'dropped', drop_after = NULL, updated_at = now() WHERE name = $1 AND version = $2", [definition.name, version]);
}

/** Drops every retired version of a projection whose grace period is over; returns the versions dropped. */
export async function dropRetiredVersions(options: { pool: Pool; redis: Redis | null; definition: ProjectionDefinition }): Promise<number[]> {
  const { pool, definition } = options;
  const due = await pool.query<{ version: number; tables: string[] | null }>(
    `SELECT p.version, p.tables FROM projections p WHERE p.name = $1 AND p.state = 'retired' AND p.drop_after <= now()
       AND p.version <> (SELECT version FROM projection_active WHERE name = $1) ORDER BY p.version`,
    [definition.name],
  );
  for (const row of due.rows) await dropVersion({ pool, redis: options.redis, definition, version: row.version, tables: row.tables });
  return due.rows.map((row) => row.version);
}
