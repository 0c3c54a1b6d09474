/**
 * PostgreSQL connection pools. bigint columns (int8) come back as JS strings by default
 * in pg; we keep that and convert where needed, so no precision is ever lost.
 */
import pg from "pg";
import { lowerBackendPriority } from "./backend_priority.ts";

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/**
 * Session settings of every pool. No parallel query: the service's statements are short
 * and many, and a parallel plan starts worker processes per execution (the log read went
 * parallel on a 100,000-event store: 8 ms and two process starts instead of 0.3 ms), CPU
 * the 2 cores need for requests and projections. No JIT: it pays off only for long
 * analytical queries, and a plan whose cost estimate crosses jit_above_cost (a disabled
 * plan type costs 1e10) spent 190 ms compiling a read that takes 0.3 ms.
 */
export const SESSION_DEFAULTS: Readonly<Record<string, string>> = { max_parallel_workers_per_gather: "0", jit: "off" };

/** Creates a pool for a connection string; errors on idle clients are logged, not thrown. */
export function createPool(options: {
  connectionString: string;
  max?: number;
  applicationName?: string;
  onError?: (error: Error) => void;
  /**
   * Planner settings for every session of the pool (`enable_bitmapscan: "off"`, ...), on
   * top of the defaults every pool gets: no parallel workers (see SESSION_DEFAULTS).
   */
  settings?: Readonly<Record<string, string>>;
  /**
   * Niceness for the PostgreSQL backends of the pool's connections, where they run on this
   * machine and may be reniced (see lowerBackendPriority); a replay's rebuild yields to live work.
   */
  backendNiceness?: number;
}): pg.Pool {
  const settings: Record<string, string> = { ...SESSION_DEFAULTS, ...options.settings };
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    options: Object.entries(settings).map(([name, value]) => `-c ${name}=${value}`).join(" "),
    max: options.max ?? 20,
    application_name: options.applicationName ?? "commerce-cqrs",
    connectionTimeoutMillis: 5000,
    // Idle connections stay open (the pool is bounded by max): closing them after a lull
    // made the next burst open many at once, each new backend paying its start-up and
    // catalog-cache loading, which stalled every query of the service for 100-300 ms.
    idleTimeoutMillis: 0,
    keepAlive: true,
    // Run on a new client before the pool hands it out (a "connect" listener's query would
    // overlap the first caller's, which pg deprecates); best effort, a failure keeps the client.
    ...(options.backendNiceness ? { onConnect: async (client: pg.ClientBase) => { await lowerBackendPriority(client, options.backendNiceness!).catch(() => undefined); } } : {}),
  });
  pool.on("error", (error) => options.onError?.(error));
  return pool;
}

/**
 * Runs `work` in a transaction on a client of the pool: COMMIT when it resolves, ROLLBACK
 * (best effort) when it throws, the client released either way.
 */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH",
  "57P01", "57P02", "57P03", // admin shutdown, crash shutdown, cannot connect now
  "08000", "08001", "08003", "08004", "08006", "08007", "53300", // connection exceptions, too many connections
]);

/** True when an error from pg means the database cannot be reached (rather than a bad query). */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) return true;
  const message = error.message;
  return (
    message.includes("Connection terminated") ||
    message.includes("Client was closed and is not queryable") ||
    message.includes("terminating connection") ||
    message.includes("timeout exceeded when trying to connect") ||
    message.includes("Client has encountered a connection error") ||
    message.includes("Connection refused") ||
    message.includes("the database system is")
  );
}
