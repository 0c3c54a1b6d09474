/**
 * Group commit: appends queued behind a call in flight go in one call and one transaction,
 * and each gets the result a call of its own would have given: one append's conflict,
 * stale guard, duplicate idempotency key or refused value never undoes or fails another.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DuplicateIdempotencyKeyError, StaleGuardError, WrongExpectedVersionError } from "../shared/errors.ts";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../testing/db.ts";
import { createPostgresStore, type PostgresEventStore } from "./postgres.ts";
import type { AppendOptions, AppendResult, IdempotencyRecord, NewEvent } from "./types.ts";

function event(type: string, data: Record<string, unknown> = {}): NewEvent {
  return { type, data, metadata: { occurredAt: "2026-11-22T02:40:00.000Z", correlationId: crypto.randomUUID(), causationId: null } };
}

function key(name: string): IdempotencyRecord {
  return { key: `${name}-${crypto.randomUUID()}`, scope: "test", requestHash: "h", status: 201, resourceId: name };
}

type Outcome = { ok: AppendResult } | { error: unknown };

describe.skipIf(!databaseAvailable)(`group commit of appends (${databaseAvailable ? "real server" : databaseSkipReason})`, () => {
  let db: TestDatabase;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase({ poolSize: 8 });
    // One call in flight: everything issued while it runs goes in the next call, together.
    store = createPostgresStore(db.pool, { appendBatch: { maxInFlight: 1 } });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  /** Issues a first append, then `appends` in the same turn: they queue behind the first and go as one batch. */
  async function batched(appends: readonly [string, NewEvent[], AppendOptions][]): Promise<Outcome[]> {
    const first = store.append(`first-${crypto.randomUUID()}`, [event("First")], { expectedVersion: "no_stream" });
    const rest = appends.map(([stream, events, options]) => store.append(stream, events, options).then((ok) => ({ ok }), (error: unknown) => ({ error })));
    await first;
    return Promise.all(rest);
  }

  async function streamVersion(stream: string): Promise<number | null> {
    const row = (await db.pool.query<{ version: string }>("SELECT version FROM streams WHERE stream_id = $1", [stream])).rows[0];
    return row ? Number(row.version) : null;
  }

  async function eventCount(stream: string): Promise<number> {
    return Number((await db.pool.query<{ count: string }>("SELECT count(*) FROM events WHERE stream_id = $1", [stream])).rows[0]!.count);
  }

  it("gives each append of one batch its own outcome, in one transaction", async () => {
    const id = crypto.randomUUID();
    const [s1, s2, s3, s4, guardStream] = ["s1", "s2", "s3", "s4", "guard"].map((name) => `${name}-${id}`) as [string, string, string, string, string];
    await store.append(guardStream, [event("G"), event("G")], { expectedVersion: "no_stream" });
    const shared = key("shared");
    const outcomes = await batched([
      [s1, [event("A")], { expectedVersion: "no_stream" }],
      [s1, [event("A-again")], { expectedVersion: "no_stream" }], // the stream exists by now: conflict
      [s2, [event("B")], { expectedVersion: "no_stream", guard: [{ streamId: guardStream, version: 1 }] }], // guard stream is at 2
      [s3, [event("C1"), event("C2")], { expectedVersion: "no_stream", idempotency: shared }],
      [s4, [event("D")], { expectedVersion: "no_stream", idempotency: shared }], // same key, recorded by s3's append
      [s1, [event("A2")], { expectedVersion: 1 }], // sees the batch's own first append to s1
    ]);

    const [a, again, stale, c, duplicate, a2] = outcomes;
    expect(a).toHaveProperty("ok");
    expect((again as { error: unknown }).error).toBeInstanceOf(WrongExpectedVersionError);
    expect((stale as { error: StaleGuardError }).error).toBeInstanceOf(StaleGuardError);
    expect((stale as { error: StaleGuardError }).error.staleStreamIds).toEqual([guardStream]);
    expect(c).toHaveProperty("ok");
    expect((duplicate as { error: unknown }).error).toBeInstanceOf(DuplicateIdempotencyKeyError);
    expect((a2 as { ok: AppendResult }).ok.version).toBe(2);

    const commits = new Set([a, c, a2].map((outcome) => (outcome as { ok: AppendResult }).ok.position.commit));
    expect(commits.size).toBe(1); // one transaction for the batch
    expect(await streamVersion(s1)).toBe(2);
    expect(await streamVersion(s2)).toBeNull();
    expect(await streamVersion(s3)).toBe(2);
    expect(await streamVersion(s4)).toBeNull(); // taken back: no stream row, no events
    expect(await eventCount(s4)).toBe(0);
    const recorded = (await db.pool.query<{ stream_id: string; version: string }>("SELECT stream_id, version FROM idempotency_keys WHERE key = $1", [shared.key])).rows;
    expect(recorded).toEqual([{ stream_id: s3, version: "2" }]);
  });

  it("checks a guard against the batch's own earlier appends to the guard stream, and not against one it took back", async () => {
    // Items apply in stream id order: the "a-" streams before the "b-" streams that guard them.
    const id = crypto.randomUUID();
    const [moved, kept, missing] = ["a-moved", "a-kept", "a-missing"].map((name) => `${name}-${id}`) as [string, string, string];
    await store.append(moved, [event("P")], { expectedVersion: "no_stream" });
    await store.append(kept, [event("P")], { expectedVersion: "no_stream" });
    const recorded = key("recorded");
    await store.append(`other-${id}`, [event("Other")], { expectedVersion: "no_stream", idempotency: recorded });
    const outcomes = await batched([
      [moved, [event("Changed")], { expectedVersion: 1 }], // moved: 1 -> 2 within the batch
      [kept, [event("Dup")], { expectedVersion: 1, idempotency: recorded }], // taken back: kept stays at 1
      [missing, [event("Created")], { expectedVersion: "no_stream" }], // created within the batch: 0 -> 1
      [`b-stale-${id}`, [event("O")], { expectedVersion: "no_stream", guard: [{ streamId: moved, version: 1 }, { streamId: missing, version: 0 }] }],
      [`b-fresh-${id}`, [event("O")], { expectedVersion: "no_stream", guard: [{ streamId: moved, version: 2 }, { streamId: kept, version: 1 }, { streamId: missing, version: 1 }] }],
      [`b-kept-${id}`, [event("O")], { expectedVersion: "no_stream", guard: [{ streamId: kept, version: 2 }] }],
    ]);
    const [changed, dup, created, stale, fresh, keptStale] = outcomes;
    expect(changed).toHaveProperty("ok");
    expect((dup as { error: unknown }).error).toBeInstanceOf(DuplicateIdempotencyKeyError);
    expect(created).toHaveProperty("ok");
    expect((stale as { error: StaleGuardError }).error.staleStreamIds).toEqual([moved, missing].sort());
    expect((fresh as { ok: AppendResult }).ok.version).toBe(1);
    expect((keptStale as { error: StaleGuardError }).error.staleStreamIds).toEqual([kept]);
  });

  it("takes back an existing stream's append whose key is already recorded, and the stream goes on from its version", async () => {
    const stream = `existing-${crypto.randomUUID()}`;
    const recorded = key("recorded");
    await store.append(stream, [event("Created")], { expectedVersion: "no_stream" });
    await store.append(`other-${crypto.randomUUID()}`, [event("Other")], { expectedVersion: "no_stream", idempotency: recorded });
    const [duplicate, next] = await batched([
      [stream, [event("Dup1"), event("Dup2")], { expectedVersion: 1, idempotency: recorded }],
      [stream, [event("Next")], { expectedVersion: 1 }],
    ]);
    expect((duplicate as { error: unknown }).error).toBeInstanceOf(DuplicateIdempotencyKeyError);
    expect((next as { ok: AppendResult }).ok.version).toBe(2);
    const read = await store.readStream(stream);
    expect(read.events.map((e) => [e.type, e.streamVersion])).toEqual([["Created", 1], ["Next", 2]]);
  });

  it("fails only the append PostgreSQL refuses; the rest of its batch is appended", async () => {
    const good = [`good1-${crypto.randomUUID()}`, `good2-${crypto.randomUUID()}`];
    const [first, refused, second] = await batched([
      [good[0]!, [event("Good")], { expectedVersion: "no_stream" }],
      [`bad\u0000-${crypto.randomUUID()}`, [event("Bad")], { expectedVersion: "no_stream" }], // text cannot hold NUL
      [good[1]!, [event("Good")], { expectedVersion: "no_stream" }],
    ]);
    expect(first).toHaveProperty("ok");
    expect(second).toHaveProperty("ok");
    expect((refused as { error: Error }).error).toBeInstanceOf(Error);
    expect(await streamVersion(good[0]!)).toBe(1);
    expect(await streamVersion(good[1]!)).toBe(1);
  });

  it("keeps exactly one of 50 appends at the same expected version when they share batches", async () => {
    const stream = `race-${crypto.randomUUID()}`;
    await store.append(stream, [event("Created")], { expectedVersion: "no_stream" });
    const outcomes = await batched(Array.from({ length: 50 }, (_, i) => [stream, [event("Race", { i })], { expectedVersion: 1 }] as [string, NewEvent[], AppendOptions]));
    expect(outcomes.filter((outcome) => "ok" in outcome)).toHaveLength(1);
    expect(outcomes.filter((outcome) => "error" in outcome && outcome.error instanceof WrongExpectedVersionError)).toHaveLength(49);
    expect(await eventCount(stream)).toBe(2);
  });

  describe("a batch of new single-event streams (the set-based path of migration 0011)", () => {
    it("creates each stream at version 1 in one transaction, positions in stream id order; one that exists fails with its version", async () => {
      const id = crypto.randomUUID();
      const guard = `product-${id}`;
      await store.append(guard, [event("P"), event("P")], { expectedVersion: "no_stream" });
      const taken = `order-b-${id}`;
      await store.append(taken, [event("Earlier"), event("Earlier")], { expectedVersion: "no_stream" });
      const streams = [`order-c-${id}`, `order-a-${id}`, taken, `order-d-${id}`];
      const outcomes = await batched(streams.map((stream) => [stream, [event("OrderPlaced", { stream })], { expectedVersion: "no_stream", guard: [{ streamId: guard, version: 2 }] }]));
      const [c, a, b, d] = outcomes;
      expect((b as { error: WrongExpectedVersionError }).error).toBeInstanceOf(WrongExpectedVersionError);
      expect((b as { error: WrongExpectedVersionError }).error.actual).toBe(2);
      const ok = [a, c, d].map((outcome) => (outcome as { ok: AppendResult }).ok);
      expect(ok.map((result) => result.version)).toEqual([1, 1, 1]);
      expect(new Set(ok.map((result) => result.position.commit)).size).toBe(1);
      // a < c < d: positions follow the stream ids, as the loop applies items.
      expect(ok[0]!.position.prepare < ok[1]!.position.prepare && ok[1]!.position.prepare < ok[2]!.position.prepare).toBe(true);
      for (const stream of [streams[0]!, streams[1]!, streams[3]!]) {
        const read = await store.readStream(stream);
        expect(read.events.map((e) => [e.type, e.streamVersion, (e.data as { stream: string }).stream])).toEqual([["OrderPlaced", 1, stream]]);
      }
      expect(await eventCount(taken)).toBe(2);
    });

    it("answers a stale guard, a repeated stream or a stream that is also a guard as the loop does", async () => {
      const id = crypto.randomUUID();
      const guard = `product-${id}`;
      await store.append(guard, [event("P")], { expectedVersion: "no_stream" });
      const [fresh, stale] = await batched([
        [`order-1-${id}`, [event("O")], { expectedVersion: "no_stream", guard: [{ streamId: guard, version: 1 }] }],
        [`order-2-${id}`, [event("O")], { expectedVersion: "no_stream", guard: [{ streamId: guard, version: 0 }] }],
      ]);
      expect((fresh as { ok: AppendResult }).ok.version).toBe(1);
      expect((stale as { error: StaleGuardError }).error.staleStreamIds).toEqual([guard]);
      expect(await streamVersion(`order-2-${id}`)).toBeNull();

      const twice = `order-twice-${id}`;
      const [first, second] = await batched([
        [twice, [event("O", { n: 1 })], { expectedVersion: "no_stream" }],
        [twice, [event("O", { n: 2 })], { expectedVersion: "no_stream" }],
      ]);
      expect((first as { ok: AppendResult }).ok.version).toBe(1);
      expect((second as { error: unknown }).error).toBeInstanceOf(WrongExpectedVersionError);
      expect(await eventCount(twice)).toBe(1);

      // An item creating the stream another item guards at version 0: the loop checks the guard after the creation.
      const [created, guarded] = await batched([
        [`a-created-${id}`, [event("C")], { expectedVersion: "no_stream" }],
        [`b-guarded-${id}`, [event("O")], { expectedVersion: "no_stream", guard: [{ streamId: `a-created-${id}`, version: 0 }] }],
      ]);
      expect(created).toHaveProperty("ok");
      expect((guarded as { error: StaleGuardError }).error.staleStreamIds).toEqual([`a-created-${id}`]);
    });
  });

  it("plans the function's statements once per connection, not at every call (migration 0008)", async () => {
    // With custom plans, the guard check (rows from unnest of array slices) was planned again for
    // every item of every call: 153-162 against 229-295 µs of PostgreSQL CPU per guarded append.
    const config = await db.pool.query<{ proconfig: string[] | null }>("SELECT proconfig FROM pg_proc WHERE proname = 'append_events_batch'");
    expect(config.rows.map((row) => row.proconfig)).toEqual([["plan_cache_mode=force_generic_plan"]]);
  });

  it("sends a second call only once the first has run secondCallAfterMs", async () => {
    // The first call is held in flight by a row lock on its stream (a slow call); another append waits for
    // the first only while it has run less than secondCallAfterMs.
    const held = `held-${crypto.randomUUID()}`;
    await store.append(held, [event("Created")], { expectedVersion: "no_stream" });
    const lock = await db.pool.connect();
    const outcome = async (secondCallAfterMs: number): Promise<"second first" | "after the first"> => {
      const batching = createPostgresStore(db.pool, { appendBatch: { maxInFlight: 2, secondCallAfterMs } });
      try {
        await lock.query("BEGIN");
        await lock.query("SELECT 1 FROM streams WHERE stream_id = $1 FOR UPDATE", [held]);
        const order: string[] = [];
        const first = batching.append(held, [event("Held")], { expectedVersion: "any" }).then(() => order.push("first"));
        const second = batching.append(`free-${crypto.randomUUID()}`, [event("Free")], { expectedVersion: "no_stream" }).then(() => order.push("second"));
        // Long enough for a second call sent after 50 ms to be answered; the first stays blocked meanwhile.
        await Promise.race([second, new Promise((resolve) => setTimeout(resolve, 1500))]);
        await lock.query("COMMIT");
        await Promise.all([first, second]);
        return order[0] === "second" ? "second first" : "after the first";
      } finally {
        await lock.query("ROLLBACK").catch(() => undefined);
        await batching.close();
      }
    };
    try {
      expect(await outcome(50)).toBe("second first");
      expect(await outcome(60_000)).toBe("after the first");
    } finally {
      lock.release();
    }
  });
});
