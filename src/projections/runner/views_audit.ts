/**
 * Checks, a few rows at a time, that a version's Redis views hold what its rows say. The
 * sentinel (views_restore.ts) tells when Redis lost everything at once (a flush, a restart);
 * keys lost one by one leave it in place: evicted under a memory limit, or deleted by pattern
 * (SCAN and DEL) over a few seconds, the sentinel among the first and the rest after a restore
 * had already written them back. Readers would then trust collections with members missing
 * (a customer's list answered empty, daily sales 1 row of 2,013), for good. The audit
 * walks each table in key order, a page per check, wrapping around at the end, and asks
 * Redis whether each row's views are there: its values (EXISTS), collection members (ZSCORE)
 * and hash fields (HEXISTS). Presence only: what a view holds is the writers' business.
 */
import type { Redis } from "ioredis";
import type { Pool } from "../../db/pool.ts";
import type { ProjectionDefinition, Row, TableModel } from "../define.ts";
import { readKeysetPage, readRowsByKeys } from "./row_io.ts";

/** Rows checked per table at each audit. */
export const AUDIT_ROWS = 16;

/** Keys (per table) of rows with a view missing in Redis. */
export type MissingViews = Map<string, string[]>;

/** The keys of the rows whose views Redis lacks in part (rows of one table). */
async function rowsMissingViews(redis: Redis, definition: ProjectionDefinition, version: number, model: TableModel, rows: readonly Row[]): Promise<string[]> {
  const views = definition.views;
  if (!views || rows.length === 0) return [];
  const pipeline = redis.pipeline();
  const owners: string[] = [];
  for (const row of rows) {
    const key = String(row[model.key]);
    for (const op of views(model.table, key, row, undefined, version)) {
      if (op.op === "set") pipeline.exists(op.key);
      else if (op.op === "zadd") pipeline.zscore(op.key, op.member);
      else if (op.op === "hset") pipeline.hexists(op.key, op.field);
      else continue; // removals: nothing to find
      owners.push(key);
    }
  }
  const results = (await pipeline.exec()) ?? [];
  const missing = new Set<string>();
  results.forEach(([error, value], i) => {
    if (error) throw error;
    if (value === 0 || value === null) missing.add(owners[i]!);
  });
  return [...missing];
}

/** Walks a version's tables a page at a time (one audit per leader and version). */
export class ViewsAudit {
  /** Per table: the last key checked (null: start from the first). */
  readonly #after = new Map<string, string | null>();

  /** Checks the next page of each table; answers the keys whose views are missing something (empty: all there). */
  async next(pool: Pool, redis: Redis, definition: ProjectionDefinition, version: number): Promise<MissingViews> {
    const missing: MissingViews = new Map();
    for (const model of definition.tables) {
      const rows = await readKeysetPage(pool, model, version, this.#after.get(model.table) ?? null, AUDIT_ROWS);
      // A short page reached the end: the next audit starts again from the first key.
      this.#after.set(model.table, rows.length < AUDIT_ROWS ? null : String(rows.at(-1)![model.key]));
      const keys = await rowsMissingViews(redis, definition, version, model, rows);
      if (keys.length > 0) missing.set(model.table, keys);
    }
    return missing;
  }

  /**
   * Checks those rows again as the table holds them now (call with the writers held: a task in
   * flight may have moved a row's members ahead of its commit); answers what is still missing.
   */
  async recheck(pool: Pool, redis: Redis, definition: ProjectionDefinition, version: number, keys: MissingViews): Promise<MissingViews> {
    const missing: MissingViews = new Map();
    for (const model of definition.tables) {
      const wanted = keys.get(model.table);
      if (!wanted || wanted.length === 0) continue;
      const rows = await readRowsByKeys(pool, model, version, wanted);
      const still = await rowsMissingViews(redis, definition, version, model, [...rows.values()]);
      if (still.length > 0) missing.set(model.table, still);
    }
    return missing;
  }
}
