import { describe, expect, it } from "vitest";
import type { Position } from "../shared/position.ts";
import { RecentEvents } from "./recent_events.ts";
import type { RecordedEvent } from "./types.ts";

function event(n: number): RecordedEvent {
  return {
    eventId: `e${n}`, streamId: "s", streamVersion: n, type: "T", data: { n },
    metadata: { occurredAt: "2026-11-21T00:00:00.000Z", correlationId: "c", causationId: null },
    position: { commit: 10n + BigInt(Math.floor(n / 3)), prepare: BigInt(n) },
  };
}
const log = Array.from({ length: 100 }, (_, i) => event(i + 1));
const at = (n: number): Position => log[n - 1]!.position;
const ids = (events: RecordedEvent[] | null): string[] | null => events?.map((e) => e.eventId) ?? null;

describe("RecentEvents", () => {
  it("serves reads inside the remembered run and nothing outside it", () => {
    const recent = new RecentEvents(1000);
    expect(recent.read(null, 10)).toBeNull();
    recent.remember(null, log.slice(0, 10));
    recent.remember(at(10), log.slice(10, 20));
    expect(ids(recent.read(null, 3))).toEqual(["e1", "e2", "e3"]);
    expect(ids(recent.read(at(5), 3))).toEqual(["e6", "e7", "e8"]);
    expect(ids(recent.read(at(18), 10))).toEqual(["e19", "e20"]);
    expect(recent.read(at(20), 10)).toBeNull(); // past the end: read the database
    expect(recent.read({ commit: 999n, prepare: 0n }, 10)).toBeNull();
    expect(recent.read({ commit: at(5).commit, prepare: 999n }, 10)).toBeNull(); // not a position in the run
  });

  it("starts a new run when a read is not contiguous, and keeps at most its capacity", () => {
    const recent = new RecentEvents(15);
    recent.remember(null, log.slice(0, 10));
    recent.remember(at(10), log.slice(10, 20)); // 20 events → trims the oldest 5
    expect(recent.read(null, 5)).toBeNull();
    expect(recent.read(at(4), 5)).toBeNull();
    expect(ids(recent.read(at(5), 2))).toEqual(["e6", "e7"]);
    recent.remember(at(50), log.slice(50, 55)); // not contiguous: a new run
    expect(recent.read(at(10), 5)).toBeNull();
    expect(ids(recent.read(at(50), 2))).toEqual(["e51", "e52"]);
  });
});
