/**
 * Opens the configured PostgreSQL (DATABASE_URL, or the embedded one under DATA_DIR)
 * with a pool and migrations applied: the one way the service and the CLI get a database.
 */
import type { Config } from "../config.ts";
import { startEmbeddedPostgres } from "./embedded.ts";
import { migrate } from "./migrate.ts";
import { createPool, isConnectionError, type Pool } from "./pool.ts";

export interface OpenDatabase {
  url: string;
  pool: Pool;
  /** Migrations applied by this call. */
  applied: string[];
  /** Ends the pool and stops the embedded server when this call started it. */
  close(): Promise<void>;
}

/**
 * Migrates, waiting up to `waitMs` for a PostgreSQL that does not accept connections yet (it
 * starts beside the service, or restarts): retried every second, one log line per attempt.
 */
async function migrateWhenReachable(pool: Pool, waitMs: number, log?: (message: string) => void): Promise<string[]> {
  const deadline = performance.now() + waitMs;
  for (;;) {
    try {
      return await migrate(pool);
    } catch (error) {
      const left = deadline - performance.now();
      if (!isConnectionError(error) || left <= 0) throw error;
      log?.(`PostgreSQL is not reachable yet (${error instanceof Error ? error.message : String(error)}); retrying for up to ${Math.ceil(left / 1000)} s more`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000, left)));
    }
  }
}

/** Connects (starting the embedded server when DATABASE_URL is unset), then migrates. */
export async function openDatabase(
  config: Pick<Config, "databaseUrl" | "dataDir"> & Partial<Pick<Config, "databaseWaitMs">>,
  options: {
    poolSize?: number;
    log?: (message: string) => void;
    onPoolError?: (error: Error) => void;
    backendNiceness?: number;
    /** Refuse an embedded PostgreSQL another live process started on DATA_DIR (the service: that process would take it down on exit); the CLI attaches to it. */
    exclusiveEmbedded?: boolean;
  } = {},
): Promise<OpenDatabase> {
  let url = config.databaseUrl;
  let stopEmbedded = async (): Promise<void> => undefined;
  if (!url) {
    const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, exclusive: options.exclusiveEmbedded ?? false, ...(options.log ? { log: options.log } : {}) });
    url = embedded.connectionString;
    stopEmbedded = () => embedded.stop();
    options.log?.(`embedded PostgreSQL ready (data under ${config.dataDir})`);
  }
  const pool = createPool({ connectionString: url, max: options.poolSize ?? 30, ...(options.onPoolError ? { onError: options.onPoolError } : {}), ...(options.backendNiceness ? { backendNiceness: options.backendNiceness } : {}) });
  try {
    // The embedded server is up once started; an external one may still be starting.
    const applied = await migrateWhenReachable(pool, config.databaseUrl ? (config.databaseWaitMs ?? 0) : 0, options.log);
    return {
      url,
      pool,
      applied,
      async close() {
        await pool.end().catch(() => undefined);
        await stopEmbedded();
      },
    };
  } catch (error) {
    await pool.end().catch(() => undefined);
    await stopEmbedded();
    throw error;
  }
}
