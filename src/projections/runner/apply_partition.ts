/**
 * Applies the events of one or more partitions in one transaction: lock the partitions'
 * checkpoints, skip per partition the events at or below its checkpoint, load and lock the
 * touched rows, fold, finalize, write changed rows with multi-row statements, write Redis
 * views (before COMMIT; absolute values, so a replayed batch rewrites the same bytes), and
 * advance the checkpoints. A crash at any point leaves either everything or nothing of the
 * task. A live batch of a few events is one task (one transaction) for all its partitions;
 * a bulk batch is split into a few groups of partitions that apply in parallel.
 */
import type { Redis } from "ioredis";
import type pg from "pg";
import type { Pool, PoolClient } from "../../db/pool.ts";
import type { RecordedEvent } from "../../event_store/types.ts";
import { comparePositions, encodePosition, maxPosition, parsePosition, START, type Position } from "../../shared/position.ts";
import type { ProjectionDefinition, Row, RowRef, TableModel, ViewOp } from "../define.ts";
import { partitionOf } from "./partition.ts";
import { deleteRows, loadRows, sameRow, upsertRows } from "./row_io.ts";
import { writeViews } from "./views.ts";

export interface PartitionWork {
  version: number;
  /** The partitions this task owns (ascending, distinct): it applies only their rows and advances only their checkpoints. */
  owned: readonly number[];
  /** The projection's partition count. */
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

const LOCK_CHECKPOINTS =
  "SELECT partition, position FROM projection_checkpoints WHERE projection = $1 AND version = $2 AND partition = ANY($3::int[]) ORDER BY partition FOR UPDATE";

/** An SQL literal of an int array (the values are checked integers). */
function intArrayLiteral(values: readonly number[]): string {
  for (const value of values) if (!Number.isSafeInteger(value)) throw new Error(`not an integer: ${value}`);
  return `'{${values.join(",")}}'::int[]`;
}

/**
 * Locks (creating if needed) the checkpoint rows of the given partitions, in partition
 * order (so two tasks over overlapping partitions cannot deadlock), and returns partition →
 * position. One round trip once the rows exist; with `begin`, that round trip also opens the
 * transaction (BEGIN and the locking SELECT as one simple-protocol message, values inlined
 * as escaped literals).
 */
export async function lockCheckpoints(client: PoolClient, projection: string, version: number, partitions: readonly number[], options: { begin?: boolean } = {}): Promise<Map<number, Position>> {
  type Locked = { partition: number; position: string };
  let rows: Locked[];
  if (options.begin) {
    if (!Number.isSafeInteger(version)) throw new Error(`not an integer: ${version}`);
    const text = `BEGIN; ${LOCK_CHECKPOINTS.replace("$1", () => client.escapeLiteral(projection)).replace("$2", () => String(version)).replace("$3::int[]", () => intArrayLiteral(partitions))}`;
    const results = (await client.query(text)) as unknown as pg.QueryResult<Locked>[];
    rows = results[1]!.rows.map((row) => ({ partition: Number(row.partition), position: row.position }));
  } else {
    rows = (await client.query<Locked>(LOCK_CHECKPOINTS, [projection, version, partitions])).rows;
  }
  if (rows.length !== partitions.length) {
    // First task of a partition: create the rows (a concurrent creator wins harmlessly), then lock them.
    await client.query(
      "INSERT INTO projection_checkpoints (projection, version, partition, position) SELECT $1, $2, p, '0-0' FROM unnest($3::int[]) AS p ORDER BY p ON CONFLICT DO NOTHING",
      [projection, version, partitions],
    );
    rows = (await client.query<Locked>(LOCK_CHECKPOINTS, [projection, version, partitions])).rows;
  }
  const positions = new Map<number, Position>(partitions.map((partition) => [partition, START]));
  for (const row of rows) positions.set(row.partition, parsePosition(row.position) ?? START);
  return positions;
}

/** Locks (creating if needed) one partition's checkpoint row and returns its position. */
export async function lockCheckpoint(client: PoolClient, projection: string, version: number, partition: number): Promise<Position> {
  return (await lockCheckpoints(client, projection, version, [partition])).get(partition) ?? START;
}

const SET_CHECKPOINTS = `UPDATE projection_checkpoints AS c SET position = v.position
  FROM unnest($3::int[], $4::text[]) AS v(partition, position)
 WHERE c.projection = $1 AND c.version = $2 AND c.partition = v.partition`;

/** Sets locked partition checkpoints (partition → position) in one statement. */
export async function setCheckpoints(client: PoolClient, projection: string, version: number, positions: ReadonlyMap<number, Position>): Promise<void> {
  await client.query(SET_CHECKPOINTS, [projection, version, [...positions.keys()], [...positions.values()].map(encodePosition)]);
}

/**
 * Sets locked checkpoints, runs `extra` statements (literal SQL), and commits, in one round
 * trip (one simple-protocol message; a failing statement skips the rest, the caller rolls back).
 */
async function setCheckpointsAndCommit(client: PoolClient, projection: string, version: number, positions: ReadonlyMap<number, Position>, extra: readonly string[]): Promise<void> {
  if (!Number.isSafeInteger(version)) throw new Error(`not an integer: ${version}`);
  const statements = [...extra];
  if (positions.size > 0) {
    const encoded = [...positions.values()].map(encodePosition);
    statements.unshift(
      SET_CHECKPOINTS.replace("$1", () => client.escapeLiteral(projection))
        .replace("$2", () => String(version))
        .replace("$3::int[]", () => intArrayLiteral([...positions.keys()]))
        .replace("$4::text[]", () => `${client.escapeLiteral(`{${encoded.join(",")}}`)}::text[]`),
    );
  }
  await client.query(`${statements.join("; ")}; COMMIT`);
}

/** Sets one locked partition checkpoint. */
export async function setCheckpoint(client: PoolClient, projection: string, version: number, partition: number, position: Position): Promise<void> {
  await setCheckpoints(client, projection, version, new Map([[partition, position]]));
}

/** Whether an event still applies to a row: the row's partition is owned and its checkpoint is before the event. */
type Applies = (ref: RowRef, event: RecordedEvent) => boolean;

function appliesFor(work: PartitionWork, checkpoints: ReadonlyMap<number, Position>): Applies {
  return (ref, event) => {
    const checkpoint = checkpoints.get(partitionOf(ref, work.partitions));
    return checkpoint !== undefined && comparePositions(event.position, checkpoint) > 0;
  };
}

function fold(definition: ProjectionDefinition, applies: Applies, events: readonly RecordedEvent[], states: Map<string, RowState>): void {
  for (const event of events) {
    const seen = new Set<string>();
    for (const ref of definition.touches(event)) {
      if (!applies(ref, event)) continue;
      const id = `${ref.table}\u0000${ref.key}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const state = states.get(id)!;
      state.current = definition.reduce(ref, state.current, event);
    }
  }
}

async function loadStates(client: PoolClient, definition: ProjectionDefinition, work: PartitionWork, applies: Applies, events: readonly RecordedEvent[]): Promise<Map<string, RowState>> {
  const keysByTable = new Map<string, Set<string>>();
  for (const event of events) {
    for (const ref of definition.touches(event)) {
      if (!applies(ref, event)) continue;
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
    // One round trip opens the transaction and locks the checkpoints; one sets them and commits.
    const checkpoints = await lockCheckpoints(client, definition.name, work.version, work.owned, { begin: true });
    // An event is new when some owned partition's checkpoint is before it (per row, applies() decides).
    let oldest = work.through;
    for (const checkpoint of checkpoints.values()) if (comparePositions(checkpoint, oldest) < 0) oldest = checkpoint;
    const events = work.events.filter((event) => comparePositions(event.position, oldest) > 0);
    const skipped = work.events.length - events.length;
    if (comparePositions(work.through, oldest) <= 0) {
      await client.query("COMMIT");
      return { applied: 0, skipped, rowsWritten: 0, viewsFailed: false };
    }
    const applies = appliesFor(work, checkpoints);
    const states = await loadStates(client, definition, work, applies, events);
    fold(definition, applies, events, states);
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
    const advanced = new Map<number, Position>();
    for (const [partition, checkpoint] of checkpoints) if (comparePositions(work.through, checkpoint) > 0) advanced.set(partition, maxPosition(checkpoint, work.through));
    let viewsFailed = false;
    if (deps.redis && viewOps.length > 0) viewsFailed = !(await writeViews(deps.redis, viewOps));
    const markDirty = `UPDATE projections SET views_dirty = true WHERE name = ${client.escapeLiteral(definition.name)} AND version = ${work.version}`;
    await setCheckpointsAndCommit(client, definition.name, work.version, advanced, viewsFailed ? [markDirty] : []);
    return { applied: events.length, skipped, rowsWritten, viewsFailed };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
