import { ANY, NO_STREAM } from "@eventstore/db-client";
import type { AllStreamResolvedEvent, EventData } from "@eventstore/db-client";
import { describe, expect, it } from "vitest";
import { encodePosition, parsePosition } from "../shared/position.ts";
import { fromEsdbPosition, fromResolvedEvent, idempotentEventId, isSystemEvent, toEsdbPosition, toEventData, toExpectedRevision, toVersion, uuidV5 } from "./eventstoredb_codec.ts";
import type { IdempotencyRecord, NewEvent } from "./types.ts";

const MAX_U64 = (1n << 64n) - 1n;
const DNS_NAMESPACE = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";

const record: IdempotencyRecord = { key: "k-1", scope: "POST /v1/orders", requestHash: "h1", status: 201, resourceId: "o-1" };

const newEvent: NewEvent = {
  type: "OrderPlaced",
  data: { orderId: "o-1", lines: [{ sku: "A", quantity: 2 }], totalCents: 1999 },
  metadata: { occurredAt: "2024-05-01T10:00:00.000Z", correlationId: "c-1", causationId: "cause-1", idempotencyKey: "k-1" },
};

/** Simulates what the client returns for an event it wrote as `data` (JSON round trip, as on the wire). */
function asRead(data: EventData, options: { streamId: string; revision: bigint; commit: bigint; prepare: bigint }): AllStreamResolvedEvent {
  const wire = (value: unknown): unknown => JSON.parse(JSON.stringify(value));
  return {
    event: {
      streamId: options.streamId,
      id: data.id,
      isJson: true,
      revision: options.revision,
      type: data.type,
      created: new Date("2024-05-01T10:00:01.000Z"),
      data: wire(data.data) as Record<string, unknown>,
      metadata: wire(data.metadata) as Record<string, unknown>,
      position: { commit: options.commit, prepare: options.prepare },
    },
    commitPosition: options.commit,
  };
}

describe("positions", () => {
  it("keep commit and prepare through the client's type and the wire form, up to max u64", () => {
    for (const position of [
      { commit: 0n, prepare: 0n },
      { commit: 1234n, prepare: 1200n },
      { commit: MAX_U64, prepare: MAX_U64 - 1n },
      { commit: 2n ** 53n + 1n, prepare: 2n ** 53n + 1n },
    ]) {
      const ours = fromEsdbPosition(toEsdbPosition(position));
      expect(ours).toEqual(position);
      expect(parsePosition(encodePosition(ours))).toEqual(position);
    }
  });
});

describe("expected versions", () => {
  it("map event counts to the revision of the last event", () => {
    expect(toExpectedRevision("any")).toBe(ANY);
    expect(toExpectedRevision("no_stream")).toBe(NO_STREAM);
    expect(toExpectedRevision(0)).toBe(NO_STREAM);
    expect(toExpectedRevision(1)).toBe(0n);
    expect(toExpectedRevision(42)).toBe(41n);
    expect(() => toExpectedRevision(-1)).toThrow(RangeError);
    expect(() => toExpectedRevision(1.5)).toThrow(RangeError);
  });

  it("map revisions back to event counts", () => {
    expect(toVersion("no_stream")).toBe(0);
    expect(toVersion(0n)).toBe(1);
    expect(toVersion(41n)).toBe(42);
  });
});

describe("event encoding", () => {
  it("writes JSON events with the metadata (and EventStoreDB's $correlationId/$causationId)", () => {
    const data = toEventData(newEvent, { id: "0b3d1a0e-2f6c-4c3e-8a1b-9d7e6f5a4b3c" });
    expect(data.contentType).toBe("application/json");
    expect(data.id).toBe("0b3d1a0e-2f6c-4c3e-8a1b-9d7e6f5a4b3c");
    expect(data.type).toBe("OrderPlaced");
    expect(data.data).toEqual(newEvent.data);
    expect(data.metadata).toEqual({ ...newEvent.metadata, $correlationId: "c-1", $causationId: "cause-1" });
  });

  it("round-trips type, data and metadata, with version = revision + 1 and the position", () => {
    const data = toEventData(newEvent, { id: idempotentEventId(record, "order-o-1", 0) });
    const read = fromResolvedEvent(asRead(data, { streamId: "order-o-1", revision: 4n, commit: MAX_U64, prepare: MAX_U64 }));
    expect(read).toEqual({
      eventId: data.id,
      streamId: "order-o-1",
      streamVersion: 5,
      type: "OrderPlaced",
      data: newEvent.data,
      metadata: newEvent.metadata,
      position: { commit: MAX_U64, prepare: MAX_U64 },
    });
  });

  it("omits a null causation id from $causationId and reads it back as null", () => {
    const event: NewEvent = { ...newEvent, metadata: { occurredAt: "2024-05-01T10:00:00.000Z", correlationId: "c", causationId: null } };
    const data = toEventData(event, { id: crypto.randomUUID() });
    expect(data.metadata).toEqual({ ...event.metadata, $correlationId: "c" });
    const read = fromResolvedEvent(asRead(data, { streamId: "s", revision: 0n, commit: 1n, prepare: 1n }));
    expect(read.metadata).toEqual(event.metadata);
  });

  it("reads events written by other tools leniently", () => {
    const read = fromResolvedEvent({
      event: {
        streamId: "legacy-1", id: "e-1", isJson: false, revision: 0n, type: "Legacy", created: new Date("2020-01-01T00:00:00.000Z"),
        data: new Uint8Array([1, 2, 3]), metadata: undefined, position: { commit: 10n, prepare: 9n },
      },
    } as AllStreamResolvedEvent);
    expect(read.data).toEqual({});
    expect(read.metadata).toEqual({ occurredAt: "2020-01-01T00:00:00.000Z", correlationId: "e-1", causationId: null });
    expect(read.position).toEqual({ commit: 10n, prepare: 9n });
  });

  it("recognises system events by type or stream", () => {
    const base = asRead(toEventData(newEvent, { id: crypto.randomUUID() }), { streamId: "order-1", revision: 0n, commit: 1n, prepare: 1n });
    expect(isSystemEvent(base)).toBe(false);
    expect(isSystemEvent({ ...base, event: { ...base.event!, type: "$metadata" } } as AllStreamResolvedEvent)).toBe(true);
    expect(isSystemEvent({ ...base, event: { ...base.event!, streamId: "$stats-127.0.0.1:2113" } } as AllStreamResolvedEvent)).toBe(true);
    expect(isSystemEvent({})).toBe(true);
  });
});

describe("deterministic event ids", () => {
  it("are RFC 4122 version-5 UUIDs", () => {
    expect(uuidV5("www.example.com", DNS_NAMESPACE)).toBe("2ed6657d-e927-568b-95e1-2665a8aea6a2");
  });

  it("are the same for the same request and differ by index, key, request and stream", () => {
    const id = idempotentEventId(record, "order-o-1", 0);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(idempotentEventId({ ...record }, "order-o-1", 0)).toBe(id);
    const others = [
      idempotentEventId(record, "order-o-1", 1),
      idempotentEventId({ ...record, key: "k-2" }, "order-o-1", 0),
      idempotentEventId({ ...record, requestHash: "h2" }, "order-o-1", 0),
      idempotentEventId(record, "order-o-2", 0),
    ];
    expect(new Set([id, ...others]).size).toBe(5);
  });
});
