/**
 * Test support for projections (used by tests only): an in-memory event log that stamps
 * stream versions and positions, and a pure batch fold that does what the runner does
 * per batch (touches → reduce in order → finalize changed rows → views).
 */
import type { RecordedEvent } from "../../event_store/types.ts";
import { frameView } from "../../shared/read_models.ts";
import type { ProjectionDefinition, Row, ViewOp } from "../define.ts";

/** An in-memory log: `add` records an event with the next stream version and position. */
export class TestLog {
  #versions = new Map<string, number>();
  #sequence = 0n;
  readonly events: RecordedEvent[] = [];

  /** Records an event on a stream at a business time. */
  add(streamId: string, type: string, data: Record<string, unknown>, occurredAt: string): RecordedEvent {
    const streamVersion = (this.#versions.get(streamId) ?? 0) + 1;
    this.#versions.set(streamId, streamVersion);
    this.#sequence += 1n;
    const event: RecordedEvent = {
      eventId: `00000000-0000-4000-8000-${this.#sequence.toString().padStart(12, "0")}`,
      streamId,
      streamVersion,
      type,
      data,
      metadata: { occurredAt, correlationId: "test", causationId: null },
      position: { commit: this.#sequence, prepare: this.#sequence },
    };
    this.events.push(event);
    return event;
  }
}

export interface FoldResult {
  /** `table|key` → final row (undefined: deleted in this batch). */
  changed: Map<string, { table: string; key: string; row: Row | undefined; previous: Row | undefined }>;
  views: ViewOp[];
}

/** Folds one batch over the current rows (`table|key` → row, updated in place); pure apart from that map. */
export function foldBatch(definition: ProjectionDefinition, rows: Map<string, Row>, events: readonly RecordedEvent[], version = definition.version): FoldResult {
  const changed: FoldResult["changed"] = new Map();
  for (const event of events) {
    if (!definition.handles.has(event.type)) continue;
    for (const ref of definition.touches(event)) {
      const id = `${ref.table}|${ref.key}`;
      const entry = changed.get(id) ?? { table: ref.table, key: ref.key, row: rows.get(id), previous: rows.get(id) };
      entry.row = definition.reduce(ref, entry.row, event);
      changed.set(id, entry);
    }
  }
  const views: ViewOp[] = [];
  for (const [id, entry] of changed) {
    if (entry.row !== undefined && definition.finalize) entry.row = definition.finalize(entry.table, entry.row);
    if (entry.row === undefined) rows.delete(id);
    else rows.set(id, entry.row);
    if (definition.views) views.push(...definition.views(entry.table, entry.key, entry.row, entry.previous, version));
  }
  return { changed, views };
}

/** Folds every event one batch at a time (batch size `batchSize`) into a fresh row map. */
export function foldAll(definition: ProjectionDefinition, events: readonly RecordedEvent[], batchSize = events.length): { rows: Map<string, Row>; views: ViewOp[] } {
  const rows = new Map<string, Row>();
  const views: ViewOp[] = [];
  for (let i = 0; i < events.length; i += Math.max(1, batchSize)) {
    views.push(...foldBatch(definition, rows, events.slice(i, i + Math.max(1, batchSize)), definition.version).views);
  }
  return { rows, views };
}

/** Applies view ops in order to an in-memory model of Redis; returns key → value (sets and hashes as sorted entries). */
export function applyViews(ops: readonly ViewOp[]): Map<string, unknown> {
  const strings = new Map<string, Buffer>();
  const zsets = new Map<string, Map<string, number>>();
  const hashes = new Map<string, Map<string, Buffer>>();
  const of = <V>(map: Map<string, Map<string, V>>, key: string): Map<string, V> => map.get(key) ?? map.set(key, new Map()).get(key)!;
  for (const op of ops) {
    if (op.op === "set") strings.set(op.key, op.etag === undefined ? op.value : frameView(op.etag, op.value));
    else if (op.op === "del") strings.delete(op.key);
    else if (op.op === "zadd") of(zsets, op.key).set(op.member, op.score);
    else if (op.op === "zrem") of(zsets, op.key).delete(op.member);
    else if (op.op === "hset") of(hashes, op.key).set(op.field, op.value);
    else of(hashes, op.key).delete(op.field);
  }
  const state = new Map<string, unknown>(strings);
  for (const [key, members] of zsets) if (members.size > 0) state.set(key, [...members.entries()].sort());
  for (const [key, fields] of hashes) if (fields.size > 0) state.set(key, [...fields.entries()].sort());
  return state;
}
