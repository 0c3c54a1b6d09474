/**
 * Runs the EventStore contract against every store: PostgreSQL (a fresh test database,
 * whenever a server answers) and EventStoreDB (when EVENTSTORE_URL names a server).
 */
import { describe } from "vitest";
import { createTestDatabase, databaseAvailable, databaseSkipReason } from "../testing/db.ts";
import { describeEventStoreContract } from "./contract.ts";
import { createEventStoreDbStore } from "./eventstoredb.ts";
import { createPostgresStore } from "./postgres.ts";

const EVENTSTORE_URL = process.env["EVENTSTORE_URL"];
const EVENTSTORE_SKIP = "EventStoreDB tests need EVENTSTORE_URL (no EventStoreDB server on this machine)";

describe.skipIf(!databaseAvailable)(databaseAvailable ? "PostgreSQL store" : `PostgreSQL store (skipped: ${databaseSkipReason})`, () => {
  describeEventStoreContract("contract", async () => {
    const database = await createTestDatabase();
    const store = createPostgresStore(database.pool, { connectionString: database.url });
    return {
      store,
      async cleanup() {
        await store.close();
        await database.drop();
      },
    };
  });
});

describe.skipIf(!EVENTSTORE_URL)(EVENTSTORE_URL ? "EventStoreDB store" : `EventStoreDB store (skipped: ${EVENTSTORE_SKIP})`, () => {
  describeEventStoreContract("contract", async () => {
    const database = databaseAvailable ? await createTestDatabase() : null;
    const store = createEventStoreDbStore({ connectionString: EVENTSTORE_URL!, ...(database ? { pool: database.pool } : {}) });
    await store.ping();
    return {
      store,
      async cleanup() {
        await store.close();
        await database?.drop();
      },
    };
  });
});
