/**
 * msgpack encoding of event payloads and metadata for the PostgreSQL store: plain maps
 * (no msgpackr record extension), so any msgpack reader can decode them. And the wire form
 * of a recorded event, in which the log's readers hand events to other threads.
 */
import { Packr } from "msgpackr";
import { encodePosition, parsePosition } from "../shared/position.ts";
import { NOT_HANDLED, PayloadReader } from "./payload_reader.ts";
import type { EventMetadata, RecordedEvent } from "./types.ts";

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });
const reader = new PayloadReader();

/** Encodes an event's data or metadata. */
export function encodePayload(value: Record<string, unknown> | EventMetadata): Buffer {
  return packr.pack(value);
}

/** Decodes what encodePayload wrote (short strings from PayloadReader's cache, as decodePayloadAt). */
export function decodePayload<T = Record<string, unknown>>(bytes: Uint8Array): T {
  return decodePayloadAt<T>(bytes, 0, bytes.length);
}

/**
 * Decodes what encodePayload wrote at bytes[start, end), for readers of many events (bulk
 * builds, the live log reads and the worker threads' tasks): no view of the range is made,
 * and short strings come from PayloadReader's cache (msgpackr decodes what it does not handle). All three builds of a 1M-event log
 * in-process, three alternating pairs: 39.8-43.5 s against 43.7-49.4 s (CPU 39.8-44.5
 * against 45.6-50.6 s, GC helpers 6.9-8.4 against 9.0-9.2 s, peak RSS 20-30 MiB lower).
 */
export function decodePayloadAt<T = Record<string, unknown>>(bytes: Uint8Array, start: number, end: number): T {
  const value = reader.read(bytes, start, end);
  return (value === NOT_HANDLED ? packr.unpack(bytes, { start, end }) : value) as T;
}

/**
 * One field of the map encodePayload wrote at bytes[start, end): what
 * `decodePayloadAt(bytes, start, end)[key]` answers, without decoding the rest of the map.
 */
export function decodeFieldAt(bytes: Uint8Array, start: number, end: number, key: string): unknown {
  const value = reader.field(bytes, start, end, key);
  if (value !== NOT_HANDLED) return value;
  const whole: unknown = packr.unpack(bytes, { start, end });
  return whole !== null && typeof whole === "object" ? (whole as Record<string, unknown>)[key] : undefined;
}

/** The stored msgpack bytes of an event's data and metadata. */
export interface RawPayload {
  data: Uint8Array;
  metadata: Uint8Array;
}

/**
 * A recorded event on the wire: data and metadata as their stored msgpack bytes (nested
 * binary, forwarded without packing them again) or as values when no bytes were kept.
 */
type WireEvent = [eventId: string, streamId: string, streamVersion: number, type: string, data: unknown, metadata: unknown, position: string];

const wirePackr = new Packr({ useRecords: false, moreTypes: false });

/** Each event's wire form, packed once however many projections and tasks send it. */
const wireForms = new WeakMap<RecordedEvent, Uint8Array>();

function wireOf(event: RecordedEvent, raw: RawPayload | undefined): WireEvent {
  return [event.eventId, event.streamId, event.streamVersion, event.type, raw?.data ?? event.data, raw?.metadata ?? event.metadata, encodePosition(event.position)];
}

/**
 * Packs the wire forms of events read together into one buffer and keeps each beside its
 * event, from the stored payload bytes the events were decoded from; those bytes are not kept.
 * (One allocation per read instead of three per event: a catch-up holds some 20,000 events.)
 */
export function rememberWireForms(events: readonly RecordedEvent[], raws: readonly RawPayload[]): void {
  let size = 0;
  for (const raw of raws) size += raw.data.length + raw.metadata.length + 160;
  let out = new Uint8Array(size);
  let offset = 0;
  const ends = new Uint32Array(events.length);
  events.forEach((event, i) => {
    // pack() answers a view of its own reused buffer: copied out at once.
    const packed = wirePackr.pack(wireOf(event, raws[i]));
    if (offset + packed.length > out.length) {
      const grown = new Uint8Array(Math.max(out.length * 2, offset + packed.length));
      grown.set(out.subarray(0, offset));
      out = grown;
    }
    out.set(packed, offset);
    offset += packed.length;
    ends[i] = offset;
  });
  events.forEach((event, i) => wireForms.set(event, out.subarray(i === 0 ? 0 : ends[i - 1]!, ends[i]!)));
}

/** An event's wire form: the one remembered at read time, else packed now (and remembered). */
export function wireFormOf(event: RecordedEvent): Uint8Array {
  let bytes = wireForms.get(event);
  if (!bytes) {
    bytes = new Uint8Array(wirePackr.pack(wireOf(event, undefined))); // a copy of the reused buffer
    wireForms.set(event, bytes);
  }
  return bytes;
}

/** Decodes a msgpack array of wire forms (as concatenated behind an array header) into events. */
export function decodeWireEvents(bytes: Uint8Array): RecordedEvent[] {
  const wire = wirePackr.unpack(bytes) as WireEvent[];
  return wire.map(([eventId, streamId, streamVersion, type, data, metadata, position]) => ({
    eventId,
    streamId,
    streamVersion,
    type,
    data: (data instanceof Uint8Array ? decodePayload(data) : data) as RecordedEvent["data"],
    metadata: (metadata instanceof Uint8Array ? decodePayload(metadata) : metadata) as RecordedEvent["metadata"],
    position: parsePosition(position)!,
  }));
}
