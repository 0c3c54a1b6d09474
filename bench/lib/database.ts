/** A fresh PostgreSQL database per bench run on DATABASE_URL's server, dropped afterwards. */
import pg from "pg";

export interface BenchDatabase {
  url: string;
  name: string;
  /** A pool on the database (size `max`); synchronous_commit as the server has it. */
  pool(max: number, options?: { synchronousCommit?: boolean }): pg.Pool;
  drop(): Promise<void>;
}

/** The server's version string, or null when it does not answer. */
export async function postgresVersion(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return (await client.query<{ server_version: string }>("SHOW server_version")).rows[0]?.server_version ?? null;
  } catch {
    return null;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates an empty database `bench_<tag>_<random>`; `drop` ends its pools and removes it. */
export async function createBenchDatabase(baseUrl: string, tag: string): Promise<BenchDatabase> {
  const name = `bench_${tag.replace(/[^a-z0-9]/g, "_")}_${crypto.randomUUID().slice(0, 8)}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const parsed = new URL(baseUrl);
  parsed.pathname = `/${name}`;
  const url = parsed.toString();
  const pools: pg.Pool[] = [];
  return {
    url,
    name,
    pool(max, options = {}) {
      const pool = new pg.Pool({ connectionString: url, max, ...(options.synchronousCommit === false ? { options: "-c synchronous_commit=off" } : {}) });
      pool.on("error", () => undefined);
      pools.push(pool);
      return pool;
    },
    async drop() {
      await Promise.all(pools.map((pool) => pool.end().catch(() => undefined)));
      const client = new pg.Client({ connectionString: baseUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * Pool size for a client-side concurrency: PostgreSQL here allows 100 connections, shared
 * with the service under test, so baselines open at most 64 and queue the rest (as the
 * service's own pool of 30 does).
 */
export function poolSizeFor(connections: number): number {
  return Math.min(connections, 64);
}
