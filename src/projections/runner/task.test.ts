import { describe, expect, it } from "vitest";
import { encodePayload, rememberWireForms, wireFormOf } from "../../event_store/codec.ts";
import type { RecordedEvent } from "../../event_store/types.ts";
import { decodeEvents, encodeEvents } from "./task.ts";

function event(n: number, raw: boolean): RecordedEvent {
  const e: RecordedEvent = {
    eventId: crypto.randomUUID(),
    streamId: `order-${n}`,
    streamVersion: n,
    type: "OrderPlaced",
    data: { n, lines: [{ productId: "p", quantity: n % 7 }], note: "x".repeat(n % 40) },
    metadata: { occurredAt: "2026-11-21T10:15:30.123Z", correlationId: `c${n}`, causationId: null },
    position: { commit: (1n << 40n) + BigInt(n), prepare: BigInt(n) },
  };
  if (raw) rememberWireForms([e], [{ data: encodePayload(e.data), metadata: encodePayload(e.metadata) }]);
  return e;
}

describe("partition task encoding", () => {
  it.each([0, 1, 15, 16, 65_535, 65_536])("round-trips %i events, with and without stored payload bytes", (count) => {
    const events = Array.from({ length: count }, (_, i) => event(i + 1, i % 2 === 0));
    const bytes = encodeEvents(events);
    expect(bytes.buffer.byteLength).toBe(bytes.byteLength); // owns its buffer: safe to transfer
    expect(decodeEvents(bytes)).toEqual(events);
  });

  it("packs each event once and reuses the bytes across tasks", () => {
    const events = Array.from({ length: 20 }, (_, i) => event(i + 1, true));
    const first = encodeEvents(events.slice(0, 10));
    const again = encodeEvents(events.slice(0, 10));
    expect(again).toEqual(first);
    expect(decodeEvents(encodeEvents([events[3]!, events[12]!]))).toEqual([events[3], events[12]]);
  });

  it("packs the wire forms of a read into one shared buffer, growing it past its estimate", () => {
    // Stream ids far longer than the estimate allows for: the buffer grows while packing.
    const events = Array.from({ length: 50 }, (_, i) => ({ ...event(i + 1, false), streamId: `order-${i}-${"s".repeat(400)}` }));
    rememberWireForms(events, events.map((e) => ({ data: encodePayload(e.data), metadata: encodePayload(e.metadata) })));
    const buffers = new Set(events.map((e) => wireFormOf(e).buffer));
    expect(buffers.size).toBe(1);
    expect(decodeEvents(encodeEvents(events))).toEqual(events);
    expect(decodeEvents(encodeEvents([events[49]!, events[0]!]))).toEqual([events[49], events[0]]);
  });
});
