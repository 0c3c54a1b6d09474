/**
 * Forward-only SQL migrations from `migrations/NNNN_<what>.sql`, applied in order, each in
 * its own transaction, recorded in `schema_migrations`. Safe when several processes start
 * at once: a session advisory lock serializes them.
 */
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { Pool } from "./pool.ts";

const MIGRATIONS_DIR = fileURLToPath(new URL("../../migrations/", import.meta.url));
const LOCK_KEY = 7_412_903_001; // advisory lock id for migrations

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Lists the migration files in order. */
export async function listMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file)).sort();
  return Promise.all(
    files.map(async (file) => ({
      version: Number(file.slice(0, 4)),
      name: file.slice(5, -4),
      sql: await readFile(`${dir}${file}`, "utf8"),
    })),
  );
}

/** Applies every pending migration; returns the names applied now. */
export async function migrate(pool: Pool, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = await listMigrations(dir);
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query("SELECT pg_advisory_lock($1)", [LOCK_KEY]);
    await client.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    );
    const done = new Set((await client.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map((row) => row.version));
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      await client.query("BEGIN");
      try {
        await client.query(migration.sql);
        await client.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [migration.version, migration.name]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        throw new Error(`Migration ${migration.version}_${migration.name} failed: ${(error as Error).message}`);
      }
      applied.push(`${String(migration.version).padStart(4, "0")}_${migration.name}`);
    }
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [LOCK_KEY]).catch(() => undefined);
    client.release();
  }
  return applied;
}

/** True when every migration file is recorded as applied. */
export async function migrationsApplied(pool: Pool, dir = MIGRATIONS_DIR): Promise<boolean> {
  const migrations = await listMigrations(dir);
  const result = await pool.query<{ version: number }>(
    "SELECT version FROM schema_migrations WHERE version = ANY($1::int[])",
    [migrations.map((migration) => migration.version)],
  );
  return result.rowCount === migrations.length;
}
