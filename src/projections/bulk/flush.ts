/**
 * One flush of a bulk build: the rows folded since the last flush, finalized (their views'
 * gzips made together in a helper thread) and written in one transaction with every
 * partition's checkpoint and the version's watermark, so a crash leaves all of it or none
 * (the build resumes from the last flush). New rows go in with binary COPY, changed ones
 * with one multi-row upsert, deleted ones with one DELETE.
 * Their Redis views are written meanwhile and waited for before COMMIT (absolute values,
 * as a worker task writes them; a crash in between rewrites the same bytes).
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { from as copyFrom } from "pg-copy-streams";
import type { PoolClient } from "../../db/pool.ts";
import { comparePositions, encodePosition, maxPosition, parsePosition, START, type Position } from "../../shared/position.ts";
import type { ProjectionDefinition, Row, TableModel, ViewOp } from "../define.ts";
import { tableName } from "../define.ts";
import { modelOf } from "../runner/apply_partition.ts";
import { deleteRows, ident, sameRow, upsertRows } from "../runner/row_io.ts";
import { PROGRESS_CHANNEL } from "../runner/watermark.ts";
import { deferringGzip, GzipBatch } from "../shared/gzip_batch.ts";
import { CopyBinaryWriter } from "./copy_binary.ts";
import type { RespStage, RespWriter } from "./resp_writer.ts";
import type { CachedRow } from "./row_cache.ts";

export interface FlushTarget {
  client: PoolClient;
  /** Where views go; null: none are written (no Redis, or they failed earlier in the build). */
  redis: RespWriter | null;
  definition: ProjectionDefinition;
  version: number;
  /** The version's checkpoint per partition as the build left it: anything else means another writer (lost leadership). */
  checkpoints: Position[];
  /** The version's Redis key space held nothing of this build's new rows (cleared when it started): removals for them are skipped. */
  viewsFresh: boolean;
}

export interface FlushResult {
  /** Per row (parallel to the rows flushed): what the table holds now (as the definition's compact() keeps it). */
  stored: (Row | undefined)[];
  rowsWritten: number;
  viewsFailed: boolean;
}

/** Thrown when a partition checkpoint moved under the build: another process writes this version. */
export class CheckpointMovedError extends Error {}

/** A flush failed after sending views for rows that did not commit: the version's views must be restored from its rows. */
export class FlushViewsAheadError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

/** Rows whose views move members (a stored row changed) go in MULTI/EXEC groups of this many rows: readers never see half a move. */
const MOVES_PER_TRANSACTION = 200;

const REMOVALS = new Set<ViewOp["op"]>(["del", "zrem", "hdel"]);

/** Sends the staged additions, then the moves in MULTI groups, and waits for every reply; false when any failed. */
async function writeViewBatches(redis: RespWriter, batches: { plain: RespStage; moves: ViewOp[][] }): Promise<boolean> {
  try {
    await redis.sendStage(batches.plain);
    for (const ops of batches.moves) if (ops.length > 0) await redis.write(ops, true);
    await redis.flush();
    return true;
  } catch {
    return false;
  }
}

/**
 * Groups a flush's view operations: additions encoded at once into a stage (sent as one
 * stream after the checkpoints are locked), moves in small MULTI groups.
 */
class ViewBatcher {
  readonly #plain: RespStage;
  readonly #moves: ViewOp[][] = [];
  #group: ViewOp[] = [];
  #groupRows = 0;

  constructor(redis: RespWriter) {
    this.#plain = redis.stage();
  }

  add(ops: readonly ViewOp[], move: boolean, skipRemovals: boolean): void {
    if (!move) {
      for (const op of ops) if (!skipRemovals || !REMOVALS.has(op.op)) this.#plain.add(op);
      return;
    }
    for (const op of ops) this.#group.push(op);
    if (++this.#groupRows >= MOVES_PER_TRANSACTION) this.#cut();
  }

  #cut(): void {
    this.#moves.push(this.#group);
    this.#group = [];
    this.#groupRows = 0;
  }

  finish(): { plain: RespStage; moves: ViewOp[][] } {
    if (this.#group.length > 0) this.#cut();
    return { plain: this.#plain, moves: this.#moves };
  }
}

/** Bytes of COPY data encoded at a time: rows are encoded as PostgreSQL takes them, not all at once. */
const COPY_CHUNK_BYTES = 256 * 1024;

/** The binary COPY stream of rows, encoded chunk by chunk as it is read. */
function* copyChunks(model: TableModel, rows: readonly Row[]): Generator<Buffer> {
  const writer = new CopyBinaryWriter(model, COPY_CHUNK_BYTES + (COPY_CHUNK_BYTES >> 2));
  for (const row of rows) {
    writer.add(row);
    if (writer.bytes >= COPY_CHUNK_BYTES) yield writer.take();
  }
  yield writer.end();
}

/** COPYs rows into a table (binary, every column named). */
async function copyInto(client: PoolClient, model: TableModel, version: number, rows: readonly Row[]): Promise<void> {
  const columns = model.columns.map((column) => ident(column.name)).join(", ");
  const sql = `COPY ${ident(tableName(model.table, version))} (${columns}) FROM STDIN (FORMAT binary)`;
  await pipeline(Readable.from(copyChunks(model, rows), { objectMode: false }), client.query(copyFrom(sql)));
}

/** Locks every partition checkpoint of the version and checks that none moved since the build last wrote them. */
async function lockCheckpoints(client: PoolClient, target: FlushTarget): Promise<void> {
  const { definition, version, checkpoints } = target;
  const rows = await client.query<{ partition: number; position: string }>(
    "SELECT partition, position FROM projection_checkpoints WHERE projection = $1 AND version = $2 ORDER BY partition FOR UPDATE",
    [definition.name, version],
  );
  const found = new Map(rows.rows.map((row) => [row.partition, parsePosition(row.position) ?? START]));
  checkpoints.forEach((expected, partition) => {
    const position = found.get(partition);
    if (position === undefined || comparePositions(position, expected) !== 0) {
      throw new CheckpointMovedError(`checkpoint of ${definition.name} v${version} partition ${partition} moved under the bulk build (another writer)`);
    }
  });
}

/**
 * Finalizes and writes the rows, moves every partition checkpoint and the watermark to
 * `through` (`consumed` events of the log up to it), all in one transaction.
 */
export async function flushRows(target: FlushTarget, rows: readonly CachedRow[], through: Position, consumed: number): Promise<FlushResult> {
  const { client, definition, version } = target;
  const stored: (Row | undefined)[] = new Array(rows.length);
  const copies = new Map<string, { model: TableModel; rows: Row[] }>();
  const upserts = new Map<string, { model: TableModel; rows: Row[] }>();
  const deletes = new Map<string, { model: TableModel; keys: string[] }>();
  const views = target.redis && definition.views ? new ViewBatcher(target.redis) : null;
  let rowsWritten = 0;
  // Finalized as they stand now, the views' gzips made together off this thread (gzip_batch.ts).
  const gzips = new GzipBatch();
  // A row still the very object stored (folded into nothing new: a redelivered event) is not finalized or written.
  const finalized = deferringGzip(gzips, () =>
    rows.map((entry) => (entry.current === undefined || entry.current === entry.stored ? entry.current : (definition.finalize?.(entry.ref.table, entry.current) ?? entry.current))),
  );
  if (gzips.size > 0) {
    await gzips.run();
    let swapped = 0;
    for (const row of finalized) {
      if (row === undefined) continue;
      for (const column in row) {
        const value = row[column];
        const gzip = gzips.resolve(value);
        if (gzip !== value && gzip !== undefined) {
          row[column] = gzip;
          swapped++;
        }
      }
    }
    if (swapped !== gzips.size) throw new Error(`a flush of ${definition.name} left ${gzips.size - swapped} deferred gzips outside its rows' columns`);
  }
  rows.forEach((entry, i) => {
    const { table, key } = entry.ref;
    const model = modelOf(definition, table);
    const after = finalized[i];
    const before = entry.stored;
    if (after === undefined && before === undefined) return;
    if (after !== undefined && before !== undefined && sameRow(model, after, before)) {
      stored[i] = before;
      return;
    }
    // Kept in memory as the projection compacts it (its derived bytes made again at its next write).
    stored[i] = after === undefined || !definition.compact ? after : definition.compact(table, after);
    rowsWritten++;
    if (after === undefined) {
      let list = deletes.get(table);
      if (!list) deletes.set(table, (list = { model, keys: [] }));
      list.keys.push(key);
    } else if (before === undefined) {
      let copy = copies.get(table);
      if (!copy) copies.set(table, (copy = { model, rows: [] }));
      copy.rows.push(after);
    } else {
      let list = upserts.get(table);
      if (!list) upserts.set(table, (list = { model, rows: [] }));
      list.rows.push(after);
    }
    if (views) views.add(definition.views!(table, key, after, before, version), before !== undefined, target.viewsFresh && before === undefined);
  });
  let viewsSent = false;
  await client.query("BEGIN");
  try {
    // The checkpoints first: a builder that lost the version to another writer sends nothing.
    await lockCheckpoints(client, target);
    // Then PostgreSQL writes the rows while the views go out; both before COMMIT.
    const rowWrites = (async (): Promise<void> => {
      for (const { model, rows: added } of copies.values()) await copyInto(client, model, version, added);
      for (const { model, rows: changed } of upserts.values()) await upsertRows(client, model, version, changed);
      for (const { model, keys } of deletes.values()) await deleteRows(client, model, version, keys);
    })();
    rowWrites.catch(() => undefined);
    viewsSent = views !== null && target.redis !== null;
    const viewsWritten = views && target.redis ? writeViewBatches(target.redis, views.finish()) : null;
    viewsWritten?.catch(() => undefined);
    try {
      await rowWrites;
    } finally {
      await viewsWritten;
    }
    const viewsFailed = viewsWritten === null ? false : !(await viewsWritten);
    if (viewsFailed) target.redis?.close();
    const wire = encodePosition(through);
    // Each partition to `through`, or left where it is when already past it (a live loop's partition
    // can be ahead of the watermark the build started from).
    const next = target.checkpoints.map((checkpoint) => maxPosition(checkpoint, through));
    await client.query(
      `UPDATE projection_checkpoints AS c SET position = v.position FROM unnest($3::int[], $4::text[]) AS v(partition, position)
        WHERE c.projection = $1 AND c.version = $2 AND c.partition = v.partition`,
      [definition.name, version, next.map((_, partition) => partition), next.map(encodePosition)],
    );
    await client.query(
      `WITH updated AS (UPDATE projections SET position = $3, events_done = $5, updated_at = now(), views_dirty = views_dirty OR $6 WHERE name = $1 AND version = $2)
       SELECT pg_notify($4, $1 || ' ' || $2::text || ' ' || $3)`,
      [definition.name, version, wire, PROGRESS_CHANNEL, consumed, viewsFailed],
    );
    await client.query("COMMIT");
    next.forEach((position, partition) => (target.checkpoints[partition] = position));
    return { stored, rowsWritten, viewsFailed };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    // Views went out for rows that did not commit: have them restored from the rows (best
    // effort: with the store down the flag cannot be set, and the leader restores anyway after a failed run).
    if (viewsSent) {
      await client
        .query("UPDATE projections SET views_dirty = true WHERE name = $1 AND version = $2", [definition.name, version])
        .catch(() => undefined);
      throw new FlushViewsAheadError(error);
    }
    throw error;
  }
}
