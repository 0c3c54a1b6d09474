/**
 * Applies one partition's events in one transaction: lock the partition checkpoint, skip
 * events at or below it, load and lock the touched rows, fold, finalize, write changed
 * rows with multi-row statements, write Redis views (before COMMIT; absolute values, so
 * a replayed batch rewrites the same bytes), and advance the checkpoint. A crash at any
 * point leaves either everything or nothing of the task.
 */
import type { Redis } from "ioredis";
import type { Pool, PoolClient } from "../../db/pool.ts";
import type { RecordedEvent } from "../../event_store/types.ts";
import { comparePositions, encodePosition, maxPosition, parsePosition, START, type Position } from "../../shared/position.ts";
import type { ProjectionDefinition, Row, RowRef, TableModel, ViewOp } from "../define.ts";
import { partitionOf } from "./partition.ts";
import { deleteRows, loadRows, sameRow, upsertRows } from "./row_io.ts";
import { writeViews } from "./views.ts";

export interface PartitionWork {
  version: number;
  partition: number;
  partitions: number;
  /** Checkpoint to record when done (at or after every event's position). */
  through: Position;
  events: readonly RecordedEvent[];
  /** Write Redis views (default true). False while views are deferred: they are restored from the rows later. */
  views?: boolean;
}

export interface PartitionOutcome {
  applied: number;
  skipped: number;
  rowsWritten: number;
  viewsFailed: boolean;
}

interface RowState {
  ref: RowRef;
  before: Row | undefined;
  current: Row | undefined;
}

/** Locks (creating if needed) a partition checkpoint row and returns its position. */
export async function lockCheckpoint(client: PoolClient, projection: string, version: number, partition: number): Promise<Position> {
  const select = "SELECT position FROM projection_checkpoints WHERE projection = $1 AND version = $2 AND partition = $3 FOR UPDATE";
  let result = await client.query<{ position: string }>(select, [projection, version, partition]);
  if (result.rowCount === 0) {
    // First task of this partition: create the row (a concurrent creator wins harmlessly), then lock it.
    await client.query(
      "INSERT INTO projection_checkpoints (projection, version, partition, position) VALUES ($1, $2, $3, '0-0') ON CONFLICT DO NOTHING",
      [projection, version, partition],
    );
    result = await client.query<{ position: string }>(select, [projection, version, partition]);
  }
  return parsePosition(result.rows[0]?.position ?? "0-0") ?? START;
}

/** Sets a locked partition checkpoint. */
export async function setCheckpoint(client: PoolClient, projection: string, version: number, partition: number, position: Position): Promise<void> {
  await client.query("UPDATE projection_checkpoints SET position = $4 WHERE projection = $1 AND version = $2 AND partition = $3", [
    projection,
    version,
    partition,
    encodePosition(position),
  ]);
}

function fold(definition: ProjectionDefinition, work: PartitionWork, events: readonly RecordedEvent[], states: Map<string, RowState>): void {
  for (const event of events) {
    const seen = new Set<string>();
    for (const ref of definition.touches(event)) {
      if (partitionOf(ref, work.partitions) !== work.partition) continue;
      const id = `${ref.table}\u0000${ref.key}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const state = states.get(id)!;
      state.current = definition.reduce(ref, state.current, event);
    }
  }
}

async function loadStates(client: PoolClient, definition: ProjectionDefinition, work: PartitionWork, events: readonly RecordedEvent[]): Promise<Map<string, RowState>> {
  const keysByTable = new Map<string, Set<string>>();
  for (const event of events) {
    for (const ref of definition.touches(event)) {
      if (partitionOf(ref, work.partitions) !== work.partition) continue;
      const keys = keysByTable.get(ref.table) ?? new Set<string>();
      keys.add(ref.key);
      keysByTable.set(ref.table, keys);
    }
  }
  const states = new Map<string, RowState>();
  for (const [table, keys] of keysByTable) {
    const model = modelOf(definition, table);
    const rows = await loadRows(client, model, work.version, [...keys]);
    for (const key of keys) {
      const row = rows.get(key);
      states.set(`${table}\u0000${key}`, { ref: { table, key }, before: row, current: row });
    }
  }
  return states;
}

/** The table model with the given logical name; throws when the projection has none. */
export function modelOf(definition: ProjectionDefinition, table: string): TableModel {
  const model = definition.tables.find((candidate) => candidate.table === table);
  if (!model) throw new Error(`Projection ${definition.name} touches unknown table ${table}`);
  return model;
}

/** Applies a partition's events exactly once (see the module comment). */
export async function applyPartition(deps: { pool: Pool; redis: Redis | null }, definition: ProjectionDefinition, work: PartitionWork): Promise<PartitionOutcome> {
  const client = await deps.pool.connect();
  try {
    await client.query("BEGIN");
    const checkpoint = await lockCheckpoint(client, definition.name, work.version, work.partition);
    const events = work.events.filter((event) => comparePositions(event.position, checkpoint) > 0);
    const skipped = work.events.length - events.length;
    if (comparePositions(work.through, checkpoint) <= 0) {
      await client.query("COMMIT");
      return { applied: 0, skipped, rowsWritten: 0, viewsFailed: false };
    }
    const states = await loadStates(client, definition, work, events);
    fold(definition, work, events, states);
    const upserts = new Map<string, Row[]>();
    const deletes = new Map<string, string[]>();
    const viewOps: ViewOp[] = [];
    let rowsWritten = 0;
    for (const state of states.values()) {
      const model = modelOf(definition, state.ref.table);
      const after = state.current === undefined ? undefined : (definition.finalize?.(state.ref.table, state.current) ?? state.current);
      if (after === undefined && state.before === undefined) continue;
      if (after !== undefined && state.before !== undefined && sameRow(model, after, state.before)) continue;
      rowsWritten++;
      if (after === undefined) deletes.set(model.table, [...(deletes.get(model.table) ?? []), state.ref.key]);
      else upserts.set(model.table, [...(upserts.get(model.table) ?? []), after]);
      if (definition.views && work.views !== false) viewOps.push(...definition.views(state.ref.table, state.ref.key, after, state.before, work.version));
    }
    for (const [table, rows] of upserts) await upsertRows(client, modelOf(definition, table), work.version, rows);
    for (const [table, keys] of deletes) await deleteRows(client, modelOf(definition, table), work.version, keys);
    await setCheckpoint(client, definition.name, work.version, work.partition, maxPosition(checkpoint, work.through));
    let viewsFailed = false;
    if (deps.redis && viewOps.length > 0) {
      viewsFailed = !(await writeViews(deps.redis, viewOps));
      if (viewsFailed) {
        await client.query("UPDATE projections SET views_dirty = true WHERE name = $1 AND version = $2", [definition.name, work.version]);
      }
    }
    await client.query("COMMIT");
    return { applied: events.length, skipped, rowsWritten, viewsFailed };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
