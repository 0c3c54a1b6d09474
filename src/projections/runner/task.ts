/**
 * The unit of work the runner hands a worker: the events of one batch for one or more
 * partitions, msgpack-encoded into a single buffer that is transferred (not cloned) to the
 * thread.
 */
import { decodeWireEvents, wireFormOf } from "../../event_store/codec.ts";
import type { RecordedEvent } from "../../event_store/types.ts";
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

/** The msgpack header of an array of `count` items. */
function arrayHeader(count: number): Uint8Array {
  if (count < 16) return Uint8Array.of(0x90 | count);
  if (count < 0x10000) return Uint8Array.of(0xdc, count >> 8, count & 0xff);
  return Uint8Array.of(0xdd, (count >>> 24) & 0xff, (count >>> 16) & 0xff, (count >>> 8) & 0xff, count & 0xff);
}

/** Encodes events (a msgpack array of WireEvent) into a fresh ArrayBuffer that is safe to transfer. */
export function encodeEvents(events: readonly RecordedEvent[]): Uint8Array {
  const header = arrayHeader(events.length);
  const parts = events.map(wireFormOf);
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
  return decodeWireEvents(bytes);
}
