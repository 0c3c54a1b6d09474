/**
 * The EventStore contract: one vitest suite that every store implementation must pass.
 * Streams get unique random names, and reads of $all are filtered to this run's streams,
 * so the suite also runs against a shared store that holds other events (EventStoreDB).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StaleGuardError, WrongExpectedVersionError } from "../shared/errors.ts";
import { comparePositions, type Position } from "../shared/position.ts";
import type { EventStore, NewEvent, RecordedEvent } from "./types.ts";

export interface ContractSubject {
  store: EventStore;
  cleanup(): Promise<void>;
}

function newEvent(type: string, n: number): NewEvent {
  return {
    type,
    data: { n, text: `event ${n}`, nested: { list: [1, 2, n], flag: n % 2 === 0, none: null } },
    metadata: { occurredAt: new Date(Date.UTC(2024, 0, 1, 0, 0, n % 60)).toISOString(), correlationId: `corr-${n}`, causationId: n === 0 ? null : `cause-${n}` },
  };
}

function range(from: number, count: number, type = "ThingHappened"): NewEvent[] {
  return Array.from({ length: count }, (_, i) => newEvent(type, from + i));
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => null, (error: unknown) => error);
}

function expectStrictlyIncreasing(positions: readonly Position[]): void {
  for (let i = 1; i < positions.length; i += 1) expect(comparePositions(positions[i - 1]!, positions[i]!)).toBeLessThan(0);
}

/**
 * Reads batches until `count` matching events arrived; checks every batch's size bound.
 * Leaves the subscription by breaking out. Returns the matching events and everything delivered.
 */
async function collect(
  batches: AsyncIterable<RecordedEvent[]>,
  options: { match: (event: RecordedEvent) => boolean; count: number; batchSize: number },
): Promise<{ found: RecordedEvent[]; delivered: RecordedEvent[] }> {
  const found: RecordedEvent[] = [];
  const delivered: RecordedEvent[] = [];
  for await (const batch of batches) {
    expect(batch.length).toBeGreaterThan(0);
    expect(batch.length).toBeLessThanOrEqual(options.batchSize);
    delivered.push(...batch);
    found.push(...batch.filter(options.match));
    if (found.length >= options.count) break;
  }
  return { found, delivered };
}

/** Declares the contract suite for one store; `setup` runs once before the suite, `cleanup` once after. */
export function describeEventStoreContract(name: string, setup: () => Promise<ContractSubject>): void {
  describe(name, () => {
    const run = `c${crypto.randomUUID().slice(0, 8)}`;
    const stream = (label: string): string => `${run}_${label}-${crypto.randomUUID()}`;
    let subject: ContractSubject | undefined;
    const store = (): EventStore => subject!.store;

    beforeAll(async () => {
      subject = await setup();
    });
    afterAll(async () => {
      await subject?.cleanup();
    });

    it("appends and reads a stream back: types, data, metadata, versions 1..n, the last position", async () => {
      const id = stream("roundtrip");
      const events = [newEvent("Created", 0), newEvent("Renamed", 1), { ...newEvent("Closed", 2), metadata: { ...newEvent("Closed", 2).metadata, idempotencyKey: "key-2" } }];
      const result = await store().append(id, events, { expectedVersion: "no_stream" });
      expect(result.version).toBe(3);
      const read = await store().readStream(id);
      expect(read.version).toBe(3);
      expect(read.events.map((e) => [e.streamId, e.streamVersion, e.type, e.data, e.metadata])).toEqual(
        events.map((e, i) => [id, i + 1, e.type, e.data, e.metadata]),
      );
      expect(new Set(read.events.map((e) => e.eventId)).size).toBe(3);
      expectStrictlyIncreasing(read.events.map((e) => e.position));
      expect(comparePositions(result.position, read.events[2]!.position)).toBe(0);
      const next = await store().append(id, [newEvent("Reopened", 3)], { expectedVersion: 3 });
      expect(next.version).toBe(4);
      expect(comparePositions(result.position, next.position)).toBeLessThan(0);
    });

    it("checks expected versions: no_stream, exact, any; a conflict appends nothing", async () => {
      const id = stream("expected");
      const conflict = async (expectedVersion: "no_stream" | number, actual: number): Promise<void> => {
        const error = await caught(store().append(id, range(100, 2), { expectedVersion }));
        expect(error).toBeInstanceOf(WrongExpectedVersionError);
        expect(error).toMatchObject({ streamId: id, expected: String(expectedVersion) });
        expect((await store().readStream(id)).version).toBe(actual);
      };
      await conflict(1, 0);
      expect((await store().append(id, range(0, 2), { expectedVersion: 0 })).version).toBe(2);
      await conflict("no_stream", 2);
      await conflict(0, 2);
      await conflict(1, 2);
      await conflict(3, 2);
      expect((await store().append(id, range(2, 1), { expectedVersion: 2 })).version).toBe(3);
      expect((await store().append(id, range(3, 2), { expectedVersion: "any" })).version).toBe(5);
      expect((await store().append(stream("any"), range(0, 1), { expectedVersion: "any" })).version).toBe(1);
      const read = await store().readStream(id);
      expect(read.events.map((e) => e.data["n"])).toEqual([0, 1, 2, 3, 4]);
    });

    it("appends with a guard only while every guard stream is at its version; a stale guard appends nothing", async () => {
      const a = stream("guard-a");
      const b = stream("guard-b");
      const target = stream("guard-target");
      await store().append(a, range(0, 2), { expectedVersion: "no_stream" });
      await store().append(b, range(0, 1), { expectedVersion: "no_stream" });
      const fresh = await store().append(target, range(0, 1), { expectedVersion: "no_stream", guard: [{ streamId: a, version: 2 }, { streamId: b, version: 1 }] });
      expect(fresh.version).toBe(1);

      await store().append(b, range(1, 1), { expectedVersion: 1 });
      const stale = await caught(store().append(target, range(1, 1), { expectedVersion: 1, guard: [{ streamId: a, version: 2 }, { streamId: b, version: 1 }] }));
      expect(stale).toBeInstanceOf(StaleGuardError);
      expect(stale).toMatchObject({ streamId: target, staleStreamIds: [b] });
      expect((await store().readStream(target)).version).toBe(1);

      // The guard is reported before a wrong expected version: the caller decided from stale streams.
      const both = await caught(store().append(target, range(1, 1), { expectedVersion: 5, guard: [{ streamId: b, version: 1 }] }));
      expect(both).toBeInstanceOf(StaleGuardError);
      const wrongVersion = await caught(store().append(target, range(1, 1), { expectedVersion: 5, guard: [{ streamId: b, version: 2 }] }));
      expect(wrongVersion).toBeInstanceOf(WrongExpectedVersionError);
      expect((await store().readStream(target)).version).toBe(1);
      expect((await store().append(target, range(1, 1), { expectedVersion: 1, guard: [] })).version).toBe(2);
    });

    it("a version 0 guard holds while the guard stream does not exist and fails once it does", async () => {
      const missing = stream("guard-missing");
      const target = stream("guard-zero");
      expect((await store().append(target, range(0, 1), { expectedVersion: "no_stream", guard: [{ streamId: missing, version: 0 }] })).version).toBe(1);
      await store().append(missing, range(0, 1), { expectedVersion: "no_stream" });
      const stale = await caught(store().append(target, range(1, 1), { expectedVersion: 1, guard: [{ streamId: missing, version: 0 }] }));
      expect(stale).toBeInstanceOf(StaleGuardError);
      expect(stale).toMatchObject({ staleStreamIds: [missing] });
      expect((await store().readStream(target)).version).toBe(1);
    });

    it("lets exactly one of 50 parallel appends at the same expected version win", async () => {
      const id = stream("race");
      await store().append(id, range(0, 2), { expectedVersion: "no_stream" });
      const attempts = Array.from({ length: 50 }, (_, i) => store().append(id, [newEvent("Raced", 1000 + i), newEvent("Raced", 2000 + i)], { expectedVersion: 2 }));
      const outcomes = await Promise.allSettled(attempts);
      const wins = outcomes.flatMap((o, i) => (o.status === "fulfilled" ? [i] : []));
      const losses = outcomes.filter((o) => o.status === "rejected");
      expect(wins).toHaveLength(1);
      expect(losses).toHaveLength(49);
      for (const loss of losses) expect((loss as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedVersionError);
      const winner = wins[0]!;
      const read = await store().readStream(id);
      expect(read.version).toBe(4);
      expect(read.events.map((e) => e.data["n"])).toEqual([0, 1, 1000 + winner, 2000 + winner]);
    });

    it("reads all in order in batches: no gap, no duplicate, strictly increasing positions", async () => {
      const start = await store().headPosition();
      const streams = Array.from({ length: 8 }, (_, i) => stream(`all${i}`));
      const perAppend = 50;
      const appendsPerStream = 6;
      for (let round = 0; round < appendsPerStream; round += 1) {
        await Promise.all(streams.map((id) => store().append(id, range(round * perAppend, perAppend), { expectedVersion: round * perAppend })));
      }
      const total = streams.length * perAppend * appendsPerStream;
      const seen: RecordedEvent[] = [];
      const positions: Position[] = [];
      let after = start;
      // An empty page means "nothing visible yet" (PostgreSQL shows an event only once every older
      // transaction on the server has finished), not "never": keep reading until all arrived.
      while (seen.length < total) {
        const page = await store().readAll(after, 333);
        expect(page.length).toBeLessThanOrEqual(333);
        if (page.length === 0) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          continue;
        }
        if (after !== null) expect(comparePositions(after, page[0]!.position)).toBeLessThan(0);
        positions.push(...page.map((e) => e.position));
        seen.push(...page.filter((e) => streams.includes(e.streamId)));
        after = page.at(-1)!.position;
      }
      expectStrictlyIncreasing(positions);
      expect(seen).toHaveLength(total);
      expect(new Set(seen.map((e) => e.eventId)).size).toBe(total);
      for (const id of streams) {
        expect(seen.filter((e) => e.streamId === id).map((e) => e.streamVersion)).toEqual(Array.from({ length: perAppend * appendsPerStream }, (_, i) => i + 1));
      }
      const head = await store().headPosition();
      expect(head).not.toBeNull();
      expect(comparePositions(head!, after!)).toBeGreaterThanOrEqual(0);
    });

    it("follows live: a subscriber receives an event appended after it subscribed", async () => {
      const id = stream("live");
      const controller = new AbortController();
      const batches = store().subscribeAll({ after: await store().headPosition(), batchSize: 10, signal: controller.signal });
      const iterator = batches[Symbol.asyncIterator]();
      const first = iterator.next();
      await new Promise((resolve) => setTimeout(resolve, 50));
      const appended = await store().append(id, [newEvent("Live", 7)], { expectedVersion: "no_stream" });
      const received: RecordedEvent[] = [];
      for (let next = await first; !next.done; next = await iterator.next()) {
        received.push(...next.value.filter((e) => e.streamId === id));
        if (received.length > 0) break;
      }
      expect(received.map((e) => [e.type, e.data["n"], e.streamVersion])).toEqual([["Live", 7, 1]]);
      expect(comparePositions(received[0]!.position, appended.position)).toBe(0);
      controller.abort();
      const ended = await iterator.next();
      expect(ended.done).toBe(true);
    });

    it("resumes from a position: yields exactly the events after it", async () => {
      const id = stream("resume");
      await store().append(id, range(0, 3), { expectedVersion: "no_stream" });
      await store().append(id, range(3, 3), { expectedVersion: 3 });
      const events = (await store().readStream(id)).events;
      const checkpoint = events[1]!.position;
      const controller = new AbortController();
      const batches = store().subscribeAll({ after: checkpoint, batchSize: 2, signal: controller.signal });
      const { found, delivered } = await collect(batches, { match: (e) => e.streamId === id, count: 4, batchSize: 2 });
      controller.abort();
      expect(found.map((e) => e.eventId)).toEqual(events.slice(2).map((e) => e.eventId));
      for (const event of delivered) expect(comparePositions(event.position, checkpoint)).toBeGreaterThan(0);
      expectStrictlyIncreasing(delivered.map((e) => e.position));
    });

    it("reads a missing stream as version 0 with no events", async () => {
      expect(await store().readStream(stream("missing"))).toEqual({ version: 0, events: [] });
    });

    it("reads several streams at once, missing ones as empty", async () => {
      const a = stream("many-a");
      const b = stream("many-b");
      const missing = stream("many-missing");
      await store().append(a, range(0, 2), { expectedVersion: "no_stream" });
      await store().append(b, range(0, 3), { expectedVersion: "no_stream" });
      const reads = await store().readStreams([a, missing, b, a]);
      expect([...reads.keys()].sort()).toEqual([a, b, missing].sort());
      expect(reads.get(a)!.version).toBe(2);
      expect(reads.get(a)!.events.map((e) => e.streamVersion)).toEqual([1, 2]);
      expect(reads.get(b)!.version).toBe(3);
      expect(reads.get(b)!.events.every((e) => e.streamId === b)).toBe(true);
      expect(reads.get(missing)).toEqual({ version: 0, events: [] });
      expect((await store().readStreams([])).size).toBe(0);
    });
  });
}
