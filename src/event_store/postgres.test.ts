import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool } from "../db/pool.ts";
import { DuplicateIdempotencyKeyError, StaleGuardError, StoreUnavailableError, WrongExpectedVersionError } from "../shared/errors.ts";
import { comparePositions, encodePosition, type Position } from "../shared/position.ts";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../testing/db.ts";
import { encodePayload } from "./codec.ts";
import { createPostgresStore, type PostgresEventStore } from "./postgres.ts";
import type { NewEvent, RecordedEvent } from "./types.ts";

function event(type: string, data: Record<string, unknown> = {}): NewEvent {
  return { type, data, metadata: { occurredAt: "2026-11-21T10:15:30.123Z", correlationId: crypto.randomUUID(), causationId: null } };
}

/** Appends inside an explicit transaction on its own connection and leaves it open. */
async function openAppend(url: string, stream: string): Promise<{ commit(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query("BEGIN");
  await client.query(
    "SELECT * FROM append_events($1, 'any', 0, $2::uuid[], $3::text[], $4::bytea[], $5::bytea[], NULL, NULL, NULL, NULL, NULL)",
    [stream, [crypto.randomUUID()], ["Late"], [encodePayload({ late: true })], [encodePayload(event("Late").metadata)]],
  );
  return {
    async commit() {
      await client.query("COMMIT");
      await client.end();
    },
  };
}

/** Subscribes from `after` until a batch has events that `wanted` picks; resolves with those (the subscription ends). */
async function firstMatching(store: PostgresEventStore, after: Position | null, batchSize: number, wanted: (event: RecordedEvent) => boolean): Promise<RecordedEvent[]> {
  const controller = new AbortController();
  for await (const batch of store.subscribeAll({ after, batchSize, signal: controller.signal })) {
    const matching = batch.filter(wanted);
    if (matching.length > 0) {
      controller.abort();
      return matching;
    }
  }
  return [];
}

/**
 * Reads forward until `count` events arrived. Transactions elsewhere on the server (other
 * test files run in parallel) hold the xmin horizon back for a moment, so one read may
 * legitimately return fewer events than are committed.
 */
async function readAllUntil(store: PostgresEventStore, after: Position | null, count: number, batch = 1000): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  let position = after;
  for (let attempt = 0; events.length < count && attempt < 2000; attempt++) {
    const got = await store.readAll(position, batch);
    if (got.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      continue;
    }
    events.push(...got);
    position = got.at(-1)!.position;
  }
  return events;
}

describe.skipIf(!databaseAvailable)(`PostgreSQL event store (${databaseAvailable ? "real server" : databaseSkipReason})`, () => {
  let db: TestDatabase;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase({ poolSize: 60 });
    store = createPostgresStore(db.pool);
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  /** The position of the last committed event (not just the last visible one), so a subscriber from there sees nothing older. */
  async function committedEnd(): Promise<Position> {
    const committed = Number((await db.pool.query("SELECT count(*) FROM events")).rows[0].count);
    return (await readAllUntil(store, null, committed)).at(-1)!.position;
  }

  it("never skips an event committed late by a slow transaction", async () => {
    const before = await store.headPosition();
    const slow = await openAppend(db.url, `late-${crypto.randomUUID()}`);
    // Others commit while the slow transaction stays open.
    for (let i = 0; i < 5; i++) await store.append(`fast-${crypto.randomUUID()}`, [event("Fast")], { expectedVersion: "no_stream" });
    const whileOpen = await store.readAll(before, 100);
    expect(whileOpen).toHaveLength(0); // hidden behind the open transaction's xmin, not skipped
    await slow.commit();
    const after = await readAllUntil(store, before, 6);
    expect(await store.readAll(after.at(-1)!.position, 100)).toHaveLength(0);
    expect(after.map((e) => e.type)).toEqual(["Late", "Fast", "Fast", "Fast", "Fast", "Fast"]);
  });

  it("a subscriber sees events committed out of order, each exactly once", async () => {
    const start = await store.headPosition();
    const controller = new AbortController();
    const seen: RecordedEvent[] = [];
    const consuming = (async () => {
      for await (const batch of store.subscribeAll({ after: start, batchSize: 50, signal: controller.signal })) {
        seen.push(...batch);
        if (seen.length >= 12) controller.abort();
      }
    })();
    const slowA = await openAppend(db.url, `late-${crypto.randomUUID()}`);
    const slowB = await openAppend(db.url, `late-${crypto.randomUUID()}`);
    for (let i = 0; i < 10; i++) await store.append(`fast-${crypto.randomUUID()}`, [event("Fast")], { expectedVersion: "no_stream" });
    await slowB.commit();
    await slowA.commit();
    await consuming;
    expect(seen).toHaveLength(12);
    expect(new Set(seen.map((e) => e.eventId)).size).toBe(12);
    for (let i = 1; i < seen.length; i++) expect(comparePositions(seen[i - 1]!.position, seen[i]!.position)).toBeLessThan(0);
  });

  it("reads 10,000 events in batches in order with no gap or duplicate", async () => {
    const start = await store.headPosition();
    const stream = `bulk-${crypto.randomUUID()}`;
    for (let chunk = 0; chunk < 20; chunk++) {
      const events = Array.from({ length: 500 }, (_, i) => event("Bulk", { n: chunk * 500 + i }));
      await store.append(stream, events, { expectedVersion: chunk * 500 });
    }
    const events = await readAllUntil(store, start, 10_000, 777);
    const numbers = events.map((e) => e.data["n"] as number);
    for (let i = 1; i < events.length; i++) expect(comparePositions(events[i - 1]!.position, events[i]!.position)).toBeLessThan(0);
    expect(numbers).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    const read = await store.readStream(stream);
    expect(read.version).toBe(10_000);
    expect(read.events.at(-1)!.streamVersion).toBe(10_000);
  });

  it("50 parallel appends at the same expected version: exactly one wins", async () => {
    const stream = `race-${crypto.randomUUID()}`;
    await store.append(stream, [event("First")], { expectedVersion: "no_stream" });
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => store.append(stream, [event("Racer", { i })], { expectedVersion: 1 })),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(49);
    for (const r of lost) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedVersionError);
    const read = await store.readStream(stream);
    expect(read.events.map((e) => e.type)).toEqual(["First", "Racer"]);
  });

  it("50 parallel appends with expected version any: none lost, none duplicated", async () => {
    const stream = `any-${crypto.randomUUID()}`;
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.append(stream, [event("Any", { i })], { expectedVersion: "any" })));
    const read = await store.readStream(stream);
    expect(read.version).toBe(50);
    expect(read.events.map((e) => e.streamVersion)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(new Set(read.events.map((e) => e.data["i"])).size).toBe(50);
  });

  it("records an idempotency key with the append and refuses a second append with it", async () => {
    const key = `key-${crypto.randomUUID()}`;
    const idempotency = { key, scope: "POST /v1/test", requestHash: "h1", status: 201, resourceId: "r1" };
    const first = await store.append(`idem-${crypto.randomUUID()}`, [event("Once")], { expectedVersion: "no_stream", idempotency });
    const second = `idem-${crypto.randomUUID()}`;
    await expect(store.append(second, [event("Twice")], { expectedVersion: "no_stream", idempotency })).rejects.toBeInstanceOf(
      DuplicateIdempotencyKeyError,
    );
    expect((await store.readStream(second)).version).toBe(0);
    const row = await db.pool.query("SELECT status, resource_id, version, position FROM idempotency_keys WHERE key = $1", [key]);
    expect(row.rows[0]).toEqual({ status: 201, resource_id: "r1", version: "1", position: encodePosition(first.position) });
  });

  it("a stale guard records no idempotency key, so the retried append with the same key goes through", async () => {
    const key = `key-${crypto.randomUUID()}`;
    const idempotency = { key, scope: "POST /v1/test", requestHash: "h1", status: 201, resourceId: "r1" };
    const product = `guard-${crypto.randomUUID()}`;
    const target = `guarded-${crypto.randomUUID()}`;
    await store.append(product, [event("Created"), event("Changed")], { expectedVersion: "no_stream" });
    await expect(store.append(target, [event("Placed")], { expectedVersion: "no_stream", idempotency, guard: [{ streamId: product, version: 1 }] })).rejects.toBeInstanceOf(
      StaleGuardError,
    );
    expect((await db.pool.query("SELECT 1 FROM idempotency_keys WHERE key = $1", [key])).rowCount).toBe(0);
    const appended = await store.append(target, [event("Placed")], { expectedVersion: "no_stream", idempotency, guard: [{ streamId: product, version: 2 }] });
    expect(appended.version).toBe(1);
    const row = await db.pool.query("SELECT version, position FROM idempotency_keys WHERE key = $1", [key]);
    expect(row.rows[0]).toEqual({ version: "1", position: encodePosition(appended.position) });
  });

  it("a subscriber in another process-like store instance is woken by NOTIFY", async () => {
    const otherPool = createPool({ connectionString: db.url, max: 2 });
    const other = createPostgresStore(otherPool, { idlePollMs: 60_000 });
    try {
      const start = await committedEnd();
      const stream = `notify-${crypto.randomUUID()}`;
      const got = firstMatching(other, start, 10, (e) => e.streamId === stream);
      await new Promise((resolve) => setTimeout(resolve, 100)); // let it reach its idle wait
      await store.append(stream, [event("Ping")], { expectedVersion: "no_stream" });
      const batch = await got; // would hang for 60 s without the notification
      expect(batch.map((e) => e.type)).toEqual(["Ping"]);
    } finally {
      await other.close();
      await otherPool.end();
    }
  });

  it("paces NOTIFYs under a stream of appends, and the last append still wakes another process", async () => {
    const intervalMs = 40;
    const pacedPool = createPool({ connectionString: db.url, max: 4 });
    const paced = createPostgresStore(pacedPool, { notifyMinIntervalMs: intervalMs });
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    const notified: number[] = [];
    listener.on("notification", () => notified.push(performance.now()));
    await listener.query("LISTEN cqrs_events");
    const otherPool = createPool({ connectionString: db.url, max: 2 });
    const other = createPostgresStore(otherPool, { idlePollMs: 60_000 });
    try {
      const start = await committedEnd();
      const stream = `paced-${crypto.randomUUID()}`;
      const last = firstMatching(other, start, 1000, (e) => e.streamId === stream && e.streamVersion === 60).then((found) => found.length > 0);
      await new Promise((resolve) => setTimeout(resolve, 100)); // the other store at its idle wait
      const begin = performance.now();
      for (let version = 0; version < 60; version++) {
        await paced.append(stream, [event("Tick")], { expectedVersion: version === 0 ? "no_stream" : version });
      }
      const elapsed = performance.now() - begin;
      expect(await last).toBe(true); // would wait for the 60 s idle poll if the last append's NOTIFY were lost
      // Without pacing: one NOTIFY per append (60). With it: one per interval, plus the first.
      expect(notified.length).toBeGreaterThan(0);
      expect(notified.length).toBeLessThanOrEqual(Math.ceil(elapsed / intervalMs) + 2);
      expect(notified.length).toBeLessThan(60);
      // No check of the gaps between arrivals: the store spaces its sends, but a listener's
      // event loop can take two in one read on a busy host (CI saw 10.7 ms between two
      // arrivals of NOTIFYs sent 40 ms apart). The count above is what pacing bounds.
    } finally {
      await listener.end();
      await other.close();
      await otherPool.end();
      await paced.close();
      await pacedPool.end();
    }
  });

  it("the idle poll reads the database: an event committed with no wake-up still arrives", async () => {
    // A commit whose client lost its connection before the answer wakes nobody and sends no
    // NOTIFY; here: append_events over a plain connection. Subscribers woken together share
    // what they know of the end of the log, but a poll must not trust that and read.
    const otherPool = createPool({ connectionString: db.url, max: 4 });
    const other = createPostgresStore(otherPool, { idlePollMs: 100 });
    try {
      const start = await committedEnd();
      const stream = `silent-${crypto.randomUUID()}`;
      const controller = new AbortController();
      const subscriber = async (): Promise<RecordedEvent[]> => {
        for await (const batch of other.subscribeAll({ after: start, batchSize: 10, signal: controller.signal })) {
          const mine = batch.filter((e) => e.streamId === stream);
          if (mine.length > 0) return mine;
        }
        return [];
      };
      const got = Promise.all([subscriber(), subscriber()]);
      await new Promise((resolve) => setTimeout(resolve, 300)); // both at the end, polling
      const silent = await openAppend(db.url, stream);
      await silent.commit();
      const timer = setTimeout(() => controller.abort(), 10_000);
      const batches = await got;
      clearTimeout(timer);
      controller.abort();
      expect(batches.map((batch) => batch.map((e) => e.type))).toEqual([["Late"], ["Late"]]);
    } finally {
      await other.close();
      await otherPool.end();
    }
  });

  it("answers StoreUnavailableError when the database cannot be reached", async () => {
    const deadPool = createPool({ connectionString: "postgres://postgres@127.0.0.1:1/none", max: 1 });
    const dead = createPostgresStore(deadPool);
    await expect(dead.append("x", [event("X")], { expectedVersion: "any" })).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(dead.readStream("x")).rejects.toBeInstanceOf(StoreUnavailableError);
    await dead.close();
    await deadPool.end();
  });
});
