/**
 * Test support: a fresh, migrated PostgreSQL database per test file on the server named
 * by DATABASE_URL (or the local server at 127.0.0.1:5432), dropped afterwards.
 * When no server answers, `databaseAvailable` is false and tests skip saying why.
 */
import pg from "pg";
import { migrate } from "../db/migrate.ts";
import { createPool, type Pool } from "../db/pool.ts";

const BASE_URL = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";

async function probe(): Promise<boolean> {
  const client = new pg.Client({ connectionString: BASE_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** True when a PostgreSQL server answers at DATABASE_URL (or 127.0.0.1:5432). */
export const databaseAvailable: boolean = await probe();
/** Skip message for tests that need PostgreSQL. */
export const databaseSkipReason = `needs PostgreSQL at ${BASE_URL.replace(/\/\/[^@]*@/, "//")} (set DATABASE_URL); none answered`;

export interface TestDatabase {
  url: string;
  pool: Pool;
  name: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Creates an empty database, applies the migrations, and returns a pool on it. */
export async function createTestDatabase(options: { migrate?: boolean; poolSize?: number } = {}): Promise<TestDatabase> {
  const name = `test_${Date.now().toString(36)}_${crypto.randomUUID().slice(0, 8)}`;
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(BASE_URL, name);
  const pool = createPool({ connectionString: url, max: options.poolSize ?? 20, applicationName: "test" });
  if (options.migrate !== false) await migrate(pool);
  return {
    url,
    pool,
    name,
    async drop() {
      await pool.end().catch(() => undefined);
      const client = new pg.Client({ connectionString: BASE_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
