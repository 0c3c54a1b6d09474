/**
 * The unit of work the runner hands a worker: one partition's events of one batch,
 * msgpack-encoded into a single buffer that is transferred (not cloned) to the thread.
 */
import { Packr } from "msgpackr";
import type { RecordedEvent } from "../../event_store/types.ts";
import { encodePosition, parsePosition } from "../../shared/position.ts";
import type { ProjectionModuleRef } from "../define.ts";

export interface PartitionTask {
  module: ProjectionModuleRef;
  version: number;
  partition: number;
  partitions: number;
  /** Checkpoint to record: the last position of the batch (wire form). */
  through: string;
  /** msgpack of WireEvent[]; transferred to the worker. */
  events: Uint8Array;
}

/** What a worker answers; errors are classified so the runner can retry or park. */
export type TaskResult =
  | { ok: true; applied: number; skipped: number; rowsWritten: number; viewsFailed: boolean }
  | { ok: false; kind: "connection" | "load" | "apply"; message: string };

type WireEvent = [eventId: string, streamId: string, streamVersion: number, type: string, data: unknown, metadata: unknown, position: string];

const packr = new Packr({ useRecords: false, moreTypes: false });

/** Encodes events into a fresh ArrayBuffer-backed array that is safe to transfer. */
export function encodeEvents(events: readonly RecordedEvent[]): Uint8Array {
  const wire: WireEvent[] = events.map((e) => [e.eventId, e.streamId, e.streamVersion, e.type, e.data, e.metadata, encodePosition(e.position)]);
  const packed = packr.pack(wire);
  const owned = new Uint8Array(new ArrayBuffer(packed.length));
  owned.set(packed);
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
    data: data as RecordedEvent["data"],
    metadata: metadata as RecordedEvent["metadata"],
    position: parsePosition(position)!,
  }));
}
