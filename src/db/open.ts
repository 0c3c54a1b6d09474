/**
 * Opens the configured PostgreSQL (DATABASE_URL, or the embedded one under DATA_DIR)
 * with a pool and migrations applied: the one way the service and the CLI get a database.
 */
import type { Config } from "../config.ts";
import { startEmbeddedPostgres } from "./embedded.ts";
import { migrate } from "./migrate.ts";
import { createPool, type Pool } from "./pool.ts";

export interface OpenDatabase {
  url: string;
  pool: Pool;
  /** Migrations applied by this call. */
  applied: string[];
  /** Ends the pool and stops the embedded server when this call started it. */
  close(): Promise<void>;
}

/** Connects (starting the embedded server when DATABASE_URL is unset), then migrates. */
export async function openDatabase(
  config: Pick<Config, "databaseUrl" | "dataDir">,
  options: { poolSize?: number; log?: (message: string) => void; onPoolError?: (error: Error) => void; backendNiceness?: number } = {},
): Promise<OpenDatabase> {
  let url = config.databaseUrl;
  let stopEmbedded = async (): Promise<void> => undefined;
  if (!url) {
    const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, ...(options.log ? { log: options.log } : {}) });
    url = embedded.connectionString;
    stopEmbedded = () => embedded.stop();
    options.log?.(`embedded PostgreSQL ready (data under ${config.dataDir})`);
  }
  const pool = createPool({ connectionString: url, max: options.poolSize ?? 30, ...(options.onPoolError ? { onError: options.onPoolError } : {}), ...(options.backendNiceness ? { backendNiceness: options.backendNiceness } : {}) });
  try {
    const applied = await migrate(pool);
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
