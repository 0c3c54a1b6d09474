/**
 * The unit of work the runner hands a worker: the events of one batch for one or more
 * partitions, msgpack-encoded into a single buffer that is transferred (not cloned) to the
 * thread.
 */
import { Packr } from "msgpackr";
import { decodePayload, rawPayloadOf } from "../../event_store/codec.ts";
import type { RecordedEvent } from "../../event_store/types.ts";
import { encodePosition, parsePosition } from "../../shared/position.ts";
import type { ProjectionModuleRef } from "../define.ts";

export interface PartitionTask {
  module: ProjectionModuleRef;
  version: number;
  /** The partitions the task applies (ascending). */
  owned: number[];
  partitions: number;
  /** Checkpoint to record: the last position of the batch (wire form). */
  through: string;
  /** msgpack of WireEvent[]; transferred to the worker. */
  events: Uint8Array;
  /** False while the loop defers Redis views (bulk build of a fresh version; restored from the rows afterwards). */
  views: boolean;
}

/** What a worker answers; errors are classified so the runner can retry or park. */
export type TaskResult =
  | { ok: true; applied: number; skipped: number; rowsWritten: number; viewsFailed: boolean }
  | { ok: false; kind: "connection" | "load" | "apply"; message: string; viewsAhead?: boolean };

type WireEvent = [eventId: string, streamId: string, streamVersion: number, type: string, data: unknown, metadata: unknown, position: string];

const packr = new Packr({ useRecords: false, moreTypes: false });

/**
 * Each event's msgpack bytes, packed once however many projections and partitions send it
 * (the same RecordedEvent objects are shared by every projection in a process).
 */
const packedEvents = new WeakMap<RecordedEvent, Uint8Array>();

function packEvent(e: RecordedEvent): Uint8Array {
  let bytes = packedEvents.get(e);
  if (!bytes) {
    // Forward the stored payload bytes when the store kept them (no second pack of the data).
    const raw = rawPayloadOf(e);
    const wire: WireEvent = [e.eventId, e.streamId, e.streamVersion, e.type, raw?.data ?? e.data, raw?.metadata ?? e.metadata, encodePosition(e.position)];
    bytes = new Uint8Array(packr.pack(wire)); // a copy: pack() returns a view of a reused buffer
    packedEvents.set(e, bytes);
  }
  return bytes;
}

/** The msgpack header of an array of `count` items. */
function arrayHeader(count: number): Uint8Array {
  if (count < 16) return Uint8Array.of(0x90 | count);
  if (count < 0x10000) return Uint8Array.of(0xdc, count >> 8, count & 0xff);
  return Uint8Array.of(0xdd, (count >>> 24) & 0xff, (count >>> 16) & 0xff, (count >>> 8) & 0xff, count & 0xff);
}

/** Encodes events (a msgpack array of WireEvent) into a fresh ArrayBuffer that is safe to transfer. */
export function encodeEvents(events: readonly RecordedEvent[]): Uint8Array {
  const header = arrayHeader(events.length);
  const parts = events.map(packEvent);
  let length = header.length;
  for (const part of parts) length += part.length;
  const owned = new Uint8Array(new ArrayBuffer(length));
  owned.set(header, 0);
  let offset = header.length;
  for (const part of parts) {
    owned.set(part, offset);
    offset += part.length;
  }
  return owned;
}

/** Decodes events encoded by encodeEvents. */
export function decodeEvents(bytes: Uint8Array): RecordedEvent[] {
  const wire = packr.unpack(bytes) as WireEvent[];
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
