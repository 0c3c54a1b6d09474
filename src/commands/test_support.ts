/**
 * Test support for command routes: a fresh database, the PostgreSQL store, and the app
 * with the command routes listening on a free port.
 */
import { pino, type Logger } from "pino";
import { createPool } from "../db/pool.ts";
import { createPostgresStore } from "../event_store/postgres.ts";
import type { EventStore } from "../event_store/types.ts";
import { createApp } from "../http/app.ts";
import type { RouteModule } from "../http/route_module.ts";
import { startServer } from "../http/server.ts";
import { createTestDatabase, type TestDatabase } from "../testing/db.ts";
import type { Clock } from "./clock.ts";
import { commandRoutes } from "./routes.ts";

export const COMMANDS_TOKEN = "test-commands-token";
export const OPERATOR_TOKEN = "test-operator-token";
/** A second client with the commands scope (idempotency keys are per client). */
export const OTHER_COMMANDS_TOKEN = "test-commands-token-other";

export interface CommandHarness {
  url: string;
  db: TestDatabase;
  store: EventStore;
  /** POSTs JSON with the commands token unless headers say otherwise. */
  post(path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  /** Rows in `events` (optionally of one stream). */
  countEvents(streamId?: string): Promise<number>;
  close(): Promise<void>;
}

export interface CommandHarnessOptions {
  clock?: Clock;
  /** The app's logger (silent by default). */
  logger?: Logger;
  /** Route modules registered after the command routes. */
  extraRoutes?: RouteModule[];
  /**
   * Serve this harness's database instead of a fresh one, with a pool, store and product
   * cache of its own (as a second process would); close() then leaves the database alone.
   */
  database?: TestDatabase;
}

/** Starts the app with only the command routes on a fresh migrated database. */
export async function startCommandHarness(options: CommandHarnessOptions = {}): Promise<CommandHarness> {
  const shared = options.database;
  const db: TestDatabase = shared ? { ...shared, pool: createPool({ connectionString: shared.url, applicationName: "test-second" }), drop: async () => undefined } : await createTestDatabase();
  const store = createPostgresStore(db.pool);
  const app = createApp({
    tokens: [{ token: COMMANDS_TOKEN, scopes: ["commands"] }, { token: OTHER_COMMANDS_TOKEN, scopes: ["commands"] }, { token: OPERATOR_TOKEN, scopes: ["operator"] }],
    logger: options.logger ?? pino({ level: "silent" }),
    routes: [commandRoutes({ store, pool: db.pool, ...(options.clock ? { clock: options.clock } : {}) }), ...(options.extraRoutes ?? [])],
    ready: async () => true,
  });
  const server = await startServer(app, { port: 0, host: "127.0.0.1" });
  return {
    url: server.url,
    db,
    store,
    post(path, body, headers = {}) {
      const init: RequestInit = {
        method: "POST",
        headers: { authorization: `Bearer ${COMMANDS_TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      };
      if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
      return fetch(`${server.url}${path}`, init);
    },
    async countEvents(streamId) {
      const result = streamId === undefined
        ? await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM events")
        : await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM events WHERE stream_id = $1", [streamId]);
      return Number(result.rows[0]!.n);
    },
    async close() {
      await server.close();
      await store.close();
      if (shared) await db.pool.end();
      await db.drop();
    },
  };
}

/** A valid create-product body with a unique sku. */
export function productBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { sku: `SKU-${crypto.randomUUID().slice(0, 8)}`, name: "Mug", category: "kitchen", priceCents: 1200, ...overrides };
}
