/**
 * Applies the events of one or more partitions in one transaction: lock the partitions'
 * checkpoints, skip per partition the events at or below its checkpoint, load and lock the
 * touched rows, fold, finalize, write changed rows with multi-row statements, write Redis
 * views (before COMMIT; absolute values, so a replayed batch rewrites the same bytes), and
 * advance the checkpoints. A crash at any point leaves either everything or nothing of the
 * task. A live batch of a few events is one task (one transaction) for all its partitions;
 * a bulk batch is split into a few groups of partitions that apply in parallel.
 */
import type pg from "pg";
import { isConnectionError, type Pool, type PoolClient } from "../../db/pool.ts";
import type { RecordedEvent } from "../../event_store/types.ts";
import { comparePositions, encodePosition, parsePosition, START, type Position } from "../../shared/position.ts";
import { sentinelKey } from "../../shared/read_models.ts";
import type { ProjectionDefinition, Row, RowRef, TableModel, ViewOp } from "../define.ts";
import { partitionOf } from "./partition.ts";
import { arrayLiteral, deleteRows, loadRowsSql, rowsByKey, sameRow, upsertRows } from "./row_io.ts";
import { SessionStatements } from "../../db/statements.ts";
import type { ViewSink } from "./views.ts";

export interface PartitionWork {
  version: number;
  /** The partitions this task owns (ascending, distinct): it applies only their rows and advances only their checkpoints. */
  owned: readonly number[];
  /** The projection's partition count. */
  partitions: number;
  /** Checkpoint to record when done (at or after every event's position). */
  through: Position;
  /** The events, in log order. applyPartition replaces the list with an empty one once it has folded them (they are let go early). */
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

/** The statements a task sends in its simple-protocol messages, prepared once per session (src/db/statements.ts). */
const TASK_STATEMENTS = new SessionStatements("task");

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
 * position. One round trip once the rows exist. (A task does the same inside its first
 * message: beginLockAndLoad.)
 */
export async function lockCheckpoints(client: PoolClient, projection: string, version: number, partitions: readonly number[]): Promise<Map<number, Position>> {
  const rows = (await client.query<{ partition: number; position: string }>(LOCK_CHECKPOINTS, [projection, version, partitions])).rows;
  return lockedPositions(client, projection, version, partitions, rows);
}

/** partition → position from the locked rows; creates and locks the rows missing (a partition's first task). */
async function lockedPositions(
  client: PoolClient,
  projection: string,
  version: number,
  partitions: readonly number[],
  locked: readonly { partition: number; position: string }[],
): Promise<Map<number, Position>> {
  let rows = locked;
  if (rows.length !== partitions.length) {
    // First task of a partition: create the rows (a concurrent creator wins harmlessly), then lock them.
    await client.query(
      "INSERT INTO projection_checkpoints (projection, version, partition, position) SELECT $1, $2, p, '0-0' FROM unnest($3::int[]) AS p ORDER BY p ON CONFLICT DO NOTHING",
      [projection, version, partitions],
    );
    rows = (await client.query<{ partition: number; position: string }>(LOCK_CHECKPOINTS, [projection, version, partitions])).rows;
  }
  const positions = new Map<number, Position>(partitions.map((partition) => [partition, START]));
  for (const row of rows) positions.set(row.partition, parsePosition(row.position) ?? START);
  return positions;
}

/** A task failed after writing its Redis views: they must be restored from the rows. */
export class ViewsAheadError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

/** Locks (creating if needed) one partition's checkpoint row and returns its position. */
export async function lockCheckpoint(client: PoolClient, projection: string, version: number, partition: number): Promise<Position> {
  return (await lockCheckpoints(client, projection, version, [partition])).get(partition) ?? START;
}

const SET_CHECKPOINTS = `UPDATE projection_checkpoints AS c SET position = v.position
  FROM unnest($3::int[], $4::text[]) AS v(partition, position)
 WHERE c.projection = $1 AND c.version = $2 AND c.partition = v.partition`;

/** Sets locked partition checkpoints (partition → position) in one statement. */
async function setCheckpoints(client: PoolClient, projection: string, version: number, positions: ReadonlyMap<number, Position>): Promise<void> {
  await client.query(SET_CHECKPOINTS, [projection, version, [...positions.keys()], [...positions.values()].map(encodePosition)]);
}

/**
 * Sets locked checkpoints, runs `extra` statements (literal SQL), and commits, in one round
 * trip (one simple-protocol message; a failing statement skips the rest, the caller rolls back).
 */
async function setCheckpointsAndCommit(client: PoolClient, projection: string, version: number, positions: ReadonlyMap<number, Position>, extra: readonly string[]): Promise<void> {
  const statements = [...extra];
  if (positions.size > 0) {
    const encoded = [...positions.values()].map(encodePosition);
    // SET_CHECKPOINTS was prepared on this connection by beginLockAndLoad, before BEGIN.
    statements.unshift(
      TASK_STATEMENTS.execute(SET_CHECKPOINTS, [
        ...checkpointLiterals(client, projection, version, [...positions.keys()]),
        `${client.escapeLiteral(`{${encoded.join(",")}}`)}::text[]`,
      ]),
    );
  }
  await client.query(`${statements.join("; ")}; COMMIT`);
}

/** The literals of a checkpoint statement's $1 (projection), $2 (version) and $3 (partitions). */
function checkpointLiterals(client: PoolClient, projection: string, version: number, partitions: readonly number[]): string[] {
  if (!Number.isSafeInteger(version)) throw new Error(`not an integer: ${version}`);
  return [client.escapeLiteral(projection), String(version), intArrayLiteral(partitions)];
}

/** Sets one locked partition checkpoint. */
export async function setCheckpoint(client: PoolClient, projection: string, version: number, partition: number, position: Position): Promise<void> {
  await setCheckpoints(client, projection, version, new Map([[partition, position]]));
}

/**
 * The rows of owned partitions each event touches (touches() runs once per event of a task),
 * each with its partition; an event naming a row twice lists it once.
 */
interface Touched {
  refs: RowRef[];
  partitions: number[];
}

function touchedRows(definition: ProjectionDefinition, work: PartitionWork): Touched[] {
  const owned = new Set(work.owned);
  return work.events.map((event) => {
    const refs: RowRef[] = [];
    const partitions: number[] = [];
    for (const ref of definition.touches(event)) {
      const partition = partitionOf(ref, work.partitions);
      if (!owned.has(partition)) continue;
      let repeated = false;
      for (const seen of refs) if (seen.key === ref.key && seen.table === ref.table) repeated = true;
      if (repeated) continue;
      refs.push(ref);
      partitions.push(partition);
    }
    return { refs, partitions };
  });
}

/** The keys, per table, of every row of an owned partition the events touch (whatever the checkpoints). */
function touchedKeys(touched: readonly Touched[]): Map<string, Set<string>> {
  const keysByTable = new Map<string, Set<string>>();
  for (const { refs } of touched) {
    for (const ref of refs) {
      let keys = keysByTable.get(ref.table);
      if (!keys) {
        keys = new Set<string>();
        keysByTable.set(ref.table, keys);
      }
      keys.add(ref.key);
    }
  }
  return keysByTable;
}

/**
 * Folds the events from `from` on into the rows they apply to (a row's partition checkpoint
 * is before the event), starting from the rows as loaded; returns each touched row's state.
 */
function fold(
  definition: ProjectionDefinition,
  checkpoints: ReadonlyMap<number, Position>,
  events: readonly RecordedEvent[],
  touched: readonly Touched[],
  from: number,
  rows: ReadonlyMap<string, ReadonlyMap<string, Row>>,
): RowState[] {
  const states: RowState[] = [];
  const byTable = new Map<string, Map<string, RowState>>();
  for (let i = from; i < events.length; i++) {
    const event = events[i]!;
    const { refs, partitions } = touched[i]!;
    for (let j = 0; j < refs.length; j++) {
      const checkpoint = checkpoints.get(partitions[j]!);
      if (checkpoint === undefined || comparePositions(event.position, checkpoint) <= 0) continue;
      const ref = refs[j]!;
      let table = byTable.get(ref.table);
      if (!table) {
        table = new Map();
        byTable.set(ref.table, table);
      }
      let state = table.get(ref.key);
      if (!state) {
        const row = rows.get(ref.table)?.get(ref.key);
        state = { ref: { table: ref.table, key: ref.key }, before: row, current: row };
        table.set(ref.key, state);
        states.push(state);
      }
      state.current = definition.reduce(ref, state.current, event);
    }
  }
  return states;
}

/**
 * One round trip: BEGIN, lock the owned partitions' checkpoints, load and lock the touched
 * rows (one simple-protocol message, values inlined as escaped literals). Returns the
 * checkpoints and, per table, key → row.
 */
async function beginLockAndLoad(
  client: PoolClient,
  definition: ProjectionDefinition,
  work: PartitionWork,
  keysByTable: ReadonlyMap<string, ReadonlySet<string>>,
): Promise<{ checkpoints: Map<number, Position>; rows: Map<string, Map<string, Row>> }> {
  const tables = [...keysByTable].map(([table, keys]) => {
    const model = modelOf(definition, table);
    return { model, keys: [...keys], sql: loadRowsSql(model, work.version, "$1") };
  });
  // Prepared before BEGIN (the first time on this connection only), SET_CHECKPOINTS too, so
  // that no PREPARE round trip falls inside the transaction.
  await TASK_STATEMENTS.prepare(client, [LOCK_CHECKPOINTS, SET_CHECKPOINTS, ...tables.map(({ sql }) => sql)]);
  const statements = [
    "BEGIN",
    TASK_STATEMENTS.execute(LOCK_CHECKPOINTS, checkpointLiterals(client, definition.name, work.version, work.owned)),
    ...tables.map(({ sql, keys }) => TASK_STATEMENTS.execute(sql, [arrayLiteral(client, keys)])),
  ];
  const results = (await client.query(statements.join("; "))) as unknown as pg.QueryResult<Record<string, unknown>>[];
  const locked = results[1]!.rows as { partition: number; position: string }[];
  const checkpoints = await lockedPositions(client, definition.name, work.version, work.owned, locked);
  const rows = new Map(tables.map(({ model }, i) => [model.table, rowsByKey(model, results[i + 2]!.rows)]));
  return { checkpoints, rows };
}

/** The list under `key`, created empty when missing. */
function listIn<T>(lists: Map<string, T[]>, key: string): T[] {
  let list = lists.get(key);
  if (!list) {
    list = [];
    lists.set(key, list);
  }
  return list;
}

/** The table model with the given logical name; throws when the projection has none. */
export function modelOf(definition: ProjectionDefinition, table: string): TableModel {
  const model = definition.tables.find((candidate) => candidate.table === table);
  if (!model) throw new Error(`Projection ${definition.name} touches unknown table ${table}`);
  return model;
}

/** Folds the new events (a suffix from `skipped` on: events are in log order) and finalizes the rows: what to write. */
function prepareWrites(
  definition: ProjectionDefinition,
  work: PartitionWork,
  checkpoints: ReadonlyMap<number, Position>,
  touched: readonly Touched[],
  rows: ReadonlyMap<string, ReadonlyMap<string, Row>>,
  skipped: number,
): { upserts: Map<string, Row[]>; deletes: Map<string, string[]>; viewOps: ViewOp[]; rowsWritten: number } {
  const states = fold(definition, checkpoints, work.events, touched, skipped, rows);
  const upserts = new Map<string, Row[]>();
  const deletes = new Map<string, string[]>();
  const viewOps: ViewOp[] = [];
  let rowsWritten = 0;
  for (const state of states) {
    const model = modelOf(definition, state.ref.table);
    const after = state.current === undefined ? undefined : (definition.finalize?.(state.ref.table, state.current) ?? state.current);
    if (after === undefined && state.before === undefined) continue;
    if (after !== undefined && state.before !== undefined && sameRow(model, after, state.before)) continue;
    rowsWritten++;
    if (after === undefined) listIn(deletes, model.table).push(state.ref.key);
    else listIn(upserts, model.table).push(after);
    if (definition.views && work.views !== false) for (const op of definition.views(state.ref.table, state.ref.key, after, state.before, work.version)) viewOps.push(op);
  }
  return { upserts, deletes, viewOps, rowsWritten };
}

/** Applies a partition's events exactly once (see the module comment). */
export async function applyPartition(deps: { pool: Pool; views: ViewSink | null }, definition: ProjectionDefinition, work: PartitionWork): Promise<PartitionOutcome> {
  const client = await deps.pool.connect();
  let viewsWritten = false;
  try {
    // Three round trips: BEGIN + lock the checkpoints + load the rows; write the rows (Redis
    // views meanwhile); set the checkpoints + COMMIT.
    let touched: Touched[] | null = touchedRows(definition, work);
    let loaded: Awaited<ReturnType<typeof beginLockAndLoad>> | null = await beginLockAndLoad(client, definition, work, touchedKeys(touched));
    const { checkpoints } = loaded;
    // An event is new when some owned partition's checkpoint is before it (per row, fold decides).
    let oldest = work.through;
    for (const checkpoint of checkpoints.values()) if (comparePositions(checkpoint, oldest) < 0) oldest = checkpoint;
    const first = work.events.findIndex((event) => comparePositions(event.position, oldest) > 0);
    const skipped = first === -1 ? work.events.length : first;
    if (comparePositions(work.through, oldest) <= 0) {
      await client.query("COMMIT");
      return { applied: 0, skipped, rowsWritten: 0, viewsFailed: false };
    }
    const applied = work.events.length - skipped;
    const { upserts, deletes, viewOps, rowsWritten } = prepareWrites(definition, work, checkpoints, touched, loaded.rows, skipped);
    // The decoded events and the loaded rows are not needed past this point: let them go before
    // the round trips left, instead of keeping them through every young-generation collection
    // meanwhile (the survivors, not the garbage, set what those collections cost).
    work.events = [];
    touched = null;
    loaded = null;
    // Views are written while the rows are (both before COMMIT, so a crash in between rewrites the same bytes).
    const views = deps.views && viewOps.length > 0 ? deps.views.write(viewOps) : null;
    viewsWritten = views !== null;
    let viewsFailed = false;
    try {
      for (const [table, changed] of upserts) await upsertRows(client, modelOf(definition, table), work.version, changed);
      for (const [table, keys] of deletes) await deleteRows(client, modelOf(definition, table), work.version, keys);
    } finally {
      if (views) viewsFailed = !(await views);
    }
    // Views that may now be behind their rows: readers must not trust them until the restore
    // (the dirty flag below) rebuilt them. Best effort (Redis may be down).
    if (viewsFailed && deps.views) await deps.views.forget(viewOps, sentinelKey(definition.name, work.version));
    const advanced = new Map<number, Position>();
    for (const [partition, checkpoint] of checkpoints) if (comparePositions(work.through, checkpoint) > 0) advanced.set(partition, work.through);
    const markDirty = viewsFailed ? [`UPDATE projections SET views_dirty = true WHERE name = ${client.escapeLiteral(definition.name)} AND version = ${work.version}`] : [];
    await setCheckpointsAndCommit(client, definition.name, work.version, advanced, markDirty);
    return { applied, skipped, rowsWritten, viewsFailed };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    // Views written for rows that did not commit: unless the task is retried to success (which
    // rewrites them), they are wrong; have them restored from the rows. (Store down: the flag
    // cannot be set, and the retry after the outage rewrites them.)
    if (viewsWritten && !isConnectionError(error)) {
      await deps.pool
        .query("UPDATE projections SET views_dirty = true WHERE name = $1 AND version = $2", [definition.name, work.version])
        .catch(() => undefined);
      throw new ViewsAheadError(error);
    }
    throw error;
  } finally {
    client.release();
  }
}
