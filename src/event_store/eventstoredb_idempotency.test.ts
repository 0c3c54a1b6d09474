import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DuplicateIdempotencyKeyError, StoreUnavailableError } from "../shared/errors.ts";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../testing/db.ts";
import { createEventStoreDbStore } from "./eventstoredb.ts";
import { claimIdempotencyKey, completeIdempotencyKey, releaseIdempotencyKey } from "./eventstoredb_idempotency.ts";
import type { IdempotencyRecord } from "./types.ts";

function record(key: string): IdempotencyRecord {
  return { key, scope: "POST /v1/orders", requestHash: "hash-1", status: 201, resourceId: "order-1" };
}

async function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

describe.skipIf(!databaseAvailable)(databaseAvailable ? "EventStoreDB idempotency keys in PostgreSQL" : `EventStoreDB idempotency keys (skipped: ${databaseSkipReason})`, () => {
  let database: TestDatabase;
  const row = async (key: string) =>
    (await database.pool.query("SELECT stream_id, version, position, status FROM idempotency_keys WHERE key = $1", [key])).rows[0] as
      | { stream_id: string; version: string | null; position: string | null; status: number }
      | undefined;

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("claims a key once; a second claim of a fresh key is a duplicate", async () => {
    await claimIdempotencyKey(database.pool, record("k1"), "order-1");
    expect(await row("k1")).toEqual({ stream_id: "order-1", version: null, position: null, status: 201 });
    await expect(claimIdempotencyKey(database.pool, record("k1"), "order-1")).rejects.toBeInstanceOf(DuplicateIdempotencyKeyError);
  });

  it("records the outcome, and a completed key is never released", async () => {
    await claimIdempotencyKey(database.pool, record("k2"), "order-2");
    await completeIdempotencyKey(database.pool, "k2", { version: 3, position: { commit: (1n << 64n) - 1n, prepare: 5n } });
    await releaseIdempotencyKey(database.pool, "k2");
    expect(await row("k2")).toEqual({ stream_id: "order-2", version: "3", position: "18446744073709551615-5", status: 201 });
  });

  it("releases a claim in flight so the request can be retried", async () => {
    await claimIdempotencyKey(database.pool, record("k3"), "order-3");
    await releaseIdempotencyKey(database.pool, "k3");
    expect(await row("k3")).toBeUndefined();
    await claimIdempotencyKey(database.pool, record("k3"), "order-3");
  });

  it("takes over a key older than 24 hours", async () => {
    await claimIdempotencyKey(database.pool, record("k4"), "order-4");
    await completeIdempotencyKey(database.pool, "k4", { version: 1, position: { commit: 1n, prepare: 1n } });
    await database.pool.query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'k4'");
    await claimIdempotencyKey(database.pool, { ...record("k4"), status: 200 }, "order-44");
    expect(await row("k4")).toEqual({ stream_id: "order-44", version: null, position: null, status: 200 });
  });

  it("releases the claim when the append fails because EventStoreDB is down", async () => {
    const port = await unusedPort();
    const store = createEventStoreDbStore({ connectionString: `esdb://127.0.0.1:${port}?tls=false`, pool: database.pool, idempotentAppendAttempts: 2 });
    try {
      const event = { type: "OrderPlaced", data: { orderId: "o-5" }, metadata: { occurredAt: new Date().toISOString(), correlationId: "c", causationId: null, idempotencyKey: "k5" } };
      await expect(store.append("order-5", [event], { expectedVersion: "no_stream", idempotency: record("k5") })).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(await row("k5")).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it("refuses an idempotent append without a PostgreSQL pool, before touching EventStoreDB", async () => {
    const store = createEventStoreDbStore({ connectionString: "esdb://127.0.0.1:1?tls=false" });
    try {
      const event = { type: "X", data: {}, metadata: { occurredAt: new Date().toISOString(), correlationId: "c", causationId: null } };
      await expect(store.append("s", [event], { expectedVersion: "any", idempotency: record("k6") })).rejects.toThrow(/needs a PostgreSQL pool/);
    } finally {
      await store.close();
    }
  });
});
