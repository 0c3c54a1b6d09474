/**
 * Rebuilds a projection version's Redis views from its PostgreSQL rows: streams each
 * table in key order (keyset pages) and writes views(table, key, row, undefined, version)
 * in pipelines, then sets the version's sentinel key. A missing sentinel means Redis lost
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
  return (await redis.exists(sentinelKey(definition.name, version))) === 1;
}

/** Rewrites every view of a projection version from its rows; returns the number of rows read. */
export async function restoreViews(pool: Pool, redis: Redis, definition: ProjectionDefinition, version: number): Promise<number> {
  let rows = 0;
  if (definition.views) {
    for (const model of definition.tables) {
      const table = ident(tableName(model.table, version));
      const key = ident(model.key);
      let after: string | null = null;
      for (;;) {
        const result: { rows: Record<string, unknown>[] } = await pool.query(
          `SELECT ${selectList(model)} FROM ${table} WHERE ($1::${keyType(model)} IS NULL OR ${key} > $1::${keyType(model)}) ORDER BY ${key} LIMIT ${PAGE}`,
          [after],
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
    }
  }
  await redis.set(sentinelKey(definition.name, version), "1");
  return rows;
}
