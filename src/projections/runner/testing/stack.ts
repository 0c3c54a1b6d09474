/**
 * What the runner's integration tests stand on: a fresh migrated database, the PostgreSQL
 * event store on it, and a Redis key prefix of their own; plus the connection options the
 * runner, a replay and a runner process take.
 */
import { createPostgresStore } from "../../../event_store/postgres.ts";
import type { EventStore } from "../../../event_store/types.ts";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../../../testing/db.ts";
import { createTestRedis, redisAvailable, redisSkipReason } from "../../../testing/redis.ts";

/** Why the runner tests cannot run here (no PostgreSQL or no Redis), or null. */
export const runnerStackSkipReason: string | null = !databaseAvailable ? databaseSkipReason : !redisAvailable ? redisSkipReason : null;

export interface RunnerStack {
  db: TestDatabase;
  store: EventStore;
  redisHandle: ReturnType<typeof createTestRedis>;
  /** The store and connection settings every runner entry point takes. */
  connections(): { pool: TestDatabase["pool"]; databaseUrl: string; store: EventStore; redisUrl: string; redisKeyPrefix: string };
  close(): Promise<void>;
}

export async function openRunnerStack(): Promise<RunnerStack> {
  const db = await createTestDatabase();
  const store = createPostgresStore(db.pool, { connectionString: db.url });
  const redisHandle = createTestRedis();
  return {
    db,
    store,
    redisHandle,
    connections: () => ({ pool: db.pool, databaseUrl: db.url, store, redisUrl: redisHandle.url, redisKeyPrefix: redisHandle.prefix }),
    async close() {
      await store.close();
      await redisHandle.cleanup();
      await db.drop();
    },
  };
}
