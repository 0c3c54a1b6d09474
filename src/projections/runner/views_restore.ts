/**
 * Rebuilds a projection version's Redis views from its PostgreSQL rows: streams each
 * table in key order (keyset pages; in key ranges on the worker threads when given a pool)
 * and writes views(table, key, row, undefined, version) in pipelines, then sets the
 * version's sentinel key. A missing sentinel means Redis lost
 * its data (restart, FLUSHALL), so the views are rebuilt without a restart.
 */
import type { Redis } from "ioredis";
import type { Pool } from "../../db/pool.ts";
import type { ProjectionDefinition, ViewOp } from "../define.ts";
import { tableName } from "../define.ts";
import { ident, keyType, rowFromDatabase, selectList } from "./row_io.ts";
import { queueViewOps } from "./views.ts";

const PAGE = 1000;

/** The sentinel key whose absence marks a version's views as lost. */
export function sentinelKey(projection: string, version: number): string {
  return `projections:sentinel:${projection}:v${version}`;
}

/** True when the version's views are known to be in Redis. */
export async function viewsPresent(redis: Redis, definition: ProjectionDefinition, version: number): Promise<boolean> {
  // "1" only: a restore that never finished (the process died midway) leaves its token.
  return (await redis.get(sentinelKey(definition.name, version))) === "1";
}

/** Sets the sentinel to "1" only if it still holds this restore's token (Redis kept everything written since). */
const COMPLETE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('SET', KEYS[1], '1') else return false end`;

/** Raised when Redis lost data while views were being restored (flushed or restarted): restore again. */
export class RestoreInterruptedError extends Error {}

/** A stretch of one table's keys: (after, upTo], either end open when null. */
export interface KeyRange {
  table: string;
  after: string | null;
  upTo: string | null;
}

/** Runs range restores somewhere else (the worker pool); resolves to the rows read. */
export type RangeRunner = (range: KeyRange) => Promise<number>;

/** Ranges per table when the restore runs on a worker pool: enough to keep every thread busy. */
const RANGES = 8;

/**
 * Splits a table's keys into up to `count` contiguous ranges of roughly equal size, from
 * quantiles of a 2% block sample (cheap at any size). The ranges always cover every key;
 * only their sizes are approximate. A table too small to sample is one range.
 */
async function keyRanges(pool: Pool, definition: ProjectionDefinition, version: number, table: string, count: number): Promise<KeyRange[]> {
  const model = definition.tables.find((candidate) => candidate.table === table)!;
  const key = ident(model.key);
  const fractions = Array.from({ length: count - 1 }, (_, i) => (i + 1) / count);
  const result = await pool.query<{ bound: string | null }>(
    `SELECT unnest(percentile_disc($1::float8[]) WITHIN GROUP (ORDER BY t.${key}))::text AS bound FROM ${ident(tableName(table, version))} AS t TABLESAMPLE SYSTEM (2)`,
    [fractions],
  );
  const bounds = [...new Set(result.rows.flatMap((row) => (row.bound === null ? [] : [row.bound])))];
  const edges = [null, ...bounds, null];
  return edges.slice(1).map((upTo, i) => ({ table, after: edges[i] ?? null, upTo }));
}

/** Writes the views of the rows in one key range (keyset pages, one pipeline per page); returns the rows read. */
export async function restoreRange(pool: Pool, redis: Redis, definition: ProjectionDefinition, version: number, range: KeyRange): Promise<number> {
  if (!definition.views) return 0;
  const model = definition.tables.find((candidate) => candidate.table === range.table);
  if (!model) throw new Error(`Projection ${definition.name} has no table ${range.table}`);
  const table = ident(tableName(model.table, version));
  const key = ident(model.key);
  const type = keyType(model);
  let after = range.after;
  let rows = 0;
  for (;;) {
    const conditions: string[] = [];
    const values: string[] = [];
    if (after !== null) conditions.push(`t.${key} > $${values.push(after)}::${type}`);
    if (range.upTo !== null) conditions.push(`t.${key} <= $${values.push(range.upTo)}::${type}`);
    const result: { rows: Record<string, unknown>[] } = await pool.query(
      // Keyset pages in the key column's own order (t.key: the select list aliases a text
      // form of it under the same name), so each page is an index range scan.
      `SELECT ${selectList(model)} FROM ${table} AS t ${conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : ""} ORDER BY t.${key} LIMIT ${PAGE}`,
      values,
    );
    if (result.rows.length === 0) break;
    const ops: ViewOp[] = [];
    for (const raw of result.rows) {
      const row = rowFromDatabase(model, raw);
      const rowKey = String(row[model.key]);
      ops.push(...definition.views(model.table, rowKey, row, undefined, version));
      after = rowKey;
    }
    rows += result.rows.length;
    const pipeline = redis.pipeline();
    queueViewOps(pipeline, ops);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error !== null);
    if (failed) throw failed[0]!;
    if (result.rows.length < PAGE) break;
  }
  return rows;
}

/**
 * Rewrites every view of a projection version from its rows; returns the number of rows read.
 * With a range runner (the worker pool) each table is cut into key ranges restored in
 * parallel; without one, in this thread. The sentinel holds a token while the restore runs
 * and becomes "1" only if that token is still there at the end: Redis losing its data
 * midway (a flush, a restart) leaves no sentinel, so the views are restored again rather
 * than left half-written.
 */
export async function restoreViews(pool: Pool, redis: Redis, definition: ProjectionDefinition, version: number, runRange?: RangeRunner): Promise<number> {
  const sentinel = sentinelKey(definition.name, version);
  const token = `restoring:${crypto.randomUUID()}`;
  await redis.set(sentinel, token);
  let rows = 0;
  if (definition.views) {
    for (const model of definition.tables) {
      if (!runRange) {
        rows += await restoreRange(pool, redis, definition, version, { table: model.table, after: null, upTo: null });
        continue;
      }
      const ranges = await keyRanges(pool, definition, version, model.table, RANGES);
      for (const count of await Promise.all(ranges.map(runRange))) rows += count;
    }
  }
  const completed = await redis.eval(COMPLETE, 1, sentinel, token);
  if (completed === null) throw new RestoreInterruptedError(`Redis lost data while the views of ${definition.name} v${version} were restored`);
  return rows;
}
