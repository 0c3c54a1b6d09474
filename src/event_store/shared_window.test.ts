import { describe, expect, it } from "vitest";
import { comparePositions, type Position } from "../shared/position.ts";
import { SharedWindow } from "./shared_window.ts";
import type { RecordedEvent } from "./types.ts";

/** A log of n events at positions (1, i) and a read function over it that counts events read. */
function log(n: number) {
  const events: RecordedEvent[] = Array.from({ length: n }, (_, i) => ({
    eventId: `e${i}`,
    streamId: "s",
    streamVersion: i + 1,
    type: "T",
    data: { i },
    metadata: { occurredAt: "2026-01-01T00:00:00.000Z", correlationId: "c", causationId: null },
    position: { commit: 1n, prepare: BigInt(i + 1) },
  }));
  const stats = { eventsRead: 0, reads: 0 };
  const read = async (after: Position | null, limit: number): Promise<{ events: RecordedEvent[]; hidden: boolean }> => {
    await new Promise((resolve) => setImmediate(resolve));
    const from = after === null ? 0 : events.findIndex((event) => comparePositions(event.position, after) > 0);
    const batch = from < 0 ? [] : events.slice(from, from + limit);
    stats.reads++;
    stats.eventsRead += batch.length;
    return { events: batch, hidden: false };
  };
  return { events, read, stats };
}

/** Consumes the whole log through the window with the given batch size; returns the ids seen in order. */
async function consume(window: SharedWindow, batchSize: number, delayMs = 0): Promise<string[]> {
  const reader = window.join();
  const seen: string[] = [];
  let after: Position | null = null;
  try {
    for (;;) {
      const { events: batch } = await window.next(reader, after, batchSize);
      if (batch.length === 0) return seen;
      seen.push(...batch.map((event) => event.eventId));
      after = batch.at(-1)!.position;
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  } finally {
    window.leave(reader);
  }
}

describe("SharedWindow", () => {
  it("serves subscribers moving together with one read of each event", async () => {
    const { events, read, stats } = log(5000);
    const window = new SharedWindow({ capacity: 1000, read });
    const all = events.map((event) => event.eventId);
    const results = await Promise.all([consume(window, 200), consume(window, 200, 1), consume(window, 300)]);
    for (const seen of results) expect(seen).toEqual(all);
    // Each event read once (plus the empty reads that find the end).
    expect(stats.eventsRead).toBe(5000);
  });

  it("holds at most its capacity: a subscriber ahead waits for the slowest one inside", async () => {
    const { events, read } = log(3000);
    const window = new SharedWindow({ capacity: 500, read, maxWaitMs: 2000 });
    let largest = 0;
    const watch = setInterval(() => (largest = Math.max(largest, window.size)), 1);
    const [fast, slow] = await Promise.all([consume(window, 100), consume(window, 100, 3)]);
    clearInterval(watch);
    expect(fast).toEqual(events.map((event) => event.eventId));
    expect(slow).toEqual(fast);
    expect(largest).toBeLessThanOrEqual(500);
  });

  it("drops a subscriber that stalls, which then reads by itself and still sees every event in order", async () => {
    const { events, read, stats } = log(2000);
    const window = new SharedWindow({ capacity: 300, read, maxWaitMs: 20 });
    const stalled = window.join();
    const { events: first } = await window.next(stalled, null, 100);
    const fast = await consume(window, 100);
    expect(fast).toEqual(events.map((event) => event.eventId));
    // The stalled one resumes: the window moved on without it, so it reads alone.
    const before = stats.eventsRead;
    const { events: rest } = await window.next(stalled, first.at(-1)!.position, 100);
    expect(rest[0]!.eventId).toBe("e100");
    expect(stats.eventsRead).toBeGreaterThan(before);
    window.leave(stalled);
  });

  it("lets a subscriber far behind read alone without disturbing the window", async () => {
    const { events, read } = log(1000);
    const window = new SharedWindow({ capacity: 200, read, maxWaitMs: 50 });
    const head = window.join();
    let after: Position | null = null;
    while (after === null || comparePositions(after, events[899]!.position) < 0) {
      const { events: batch } = await window.next(head, after, 100);
      after = batch.at(-1)!.position;
    }
    const replay = await consume(window, 100);
    expect(replay).toEqual(events.map((event) => event.eventId));
    // The window still serves the subscriber at the head.
    expect(window.peek(after, 10)?.[0]?.eventId).toBe("e900");
    window.leave(head);
  });

  it("answers subscribers woken together with one empty read at the end, but not one started before their wake-up", async () => {
    const { events, read, stats } = log(10);
    const window = new SharedWindow({ capacity: 100, read });
    const readers = [window.join(), window.join(), window.join()];
    const last = events.at(-1)!.position;
    await window.next(readers[0]!, null, 100);
    stats.reads = 0;
    // Woken at epoch 5: one read serves all three.
    const answers = await Promise.all(readers.map((reader) => window.next(reader, last, 100, 5)));
    expect(answers.map((answer) => answer.events.length)).toEqual([0, 0, 0]);
    expect(stats.reads).toBe(1);
    // A reader woken later (epoch 6) than the read in flight (epoch 5) reads again.
    stats.reads = 0;
    const [early, late] = await Promise.all([window.next(readers[0]!, last, 100, 5), window.next(readers[1]!, last, 100, 6)]);
    expect([early.events.length, late.events.length]).toEqual([0, 0]);
    expect(stats.reads).toBe(2);
  });

  it("knows the end of the log a read found at a wake-up epoch, unless events were hidden", async () => {
    const { events } = log(10);
    let reads = 0;
    let hidden = false;
    const window = new SharedWindow({
      capacity: 100,
      read: async (after, limit) => {
        reads++;
        const from = after === null ? 0 : events.findIndex((event) => comparePositions(event.position, after) > 0);
        const batch = from < 0 ? [] : events.slice(from, from + limit);
        return { events: batch, hidden, end: batch.length < limit };
      },
    });
    const reader = window.join();
    const first = await window.next(reader, null, 100, 5);
    expect(first.events).toHaveLength(10);
    expect(reads).toBe(1);
    const last = events.at(-1)!.position;
    // Woken no later than that read: the end is known, no second read.
    expect((await window.next(reader, last, 100, 5)).events).toEqual([]);
    expect(reads).toBe(1);
    // Woken after it: read again.
    await window.next(reader, last, 100, 6);
    expect(reads).toBe(2);
    // A read that saw hidden events does not settle the end.
    hidden = true;
    await window.next(reader, last, 100, 7);
    await window.next(reader, last, 100, 7);
    expect(reads).toBe(4);
  });
});
