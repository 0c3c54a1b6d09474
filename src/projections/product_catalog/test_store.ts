/**
 * Test support (tests only): a minimal stand-in for the projection runner that creates
 * the read tables of definitions and applies batches to PostgreSQL and Redis: loads the
 * touched rows, folds with reduce/finalize/views, writes rows and view ops. Lets query
 * tests run on data produced by the real projection code.
 */
import type { Redis } from "ioredis";
import type { Pool } from "../../db/pool.ts";
import type { RecordedEvent } from "../../event_store/types.ts";
import { tableName, type ProjectionDefinition, type Row, type TableModel } from "../define.ts";
import { foldBatch } from "./test_support.ts";

/** Creates the physical tables (and indexes) of each definition at its version. */
export async function createReadTables(pool: Pool, definitions: readonly ProjectionDefinition[]): Promise<void> {
  for (const definition of definitions) {
    for (const model of definition.tables) {
      const physical = tableName(model.table, definition.version);
      const columns = model.columns.map((column) => `${column.name} ${column.type}`).join(", ");
      await pool.query(`CREATE TABLE ${physical} (${columns}, PRIMARY KEY (${model.key}))`);
      for (const statement of model.indexes(physical)) await pool.query(statement);
    }
  }
}

async function loadRows(pool: Pool, model: TableModel, version: number, keys: string[]): Promise<Map<string, Row>> {
  const result = await pool.query<Row>(`SELECT * FROM ${tableName(model.table, version)} WHERE ${model.key}::text = ANY($1::text[])`, [keys]);
  return new Map(result.rows.map((row) => [`${model.table}|${String(row[model.key])}`, row]));
}

async function writeRow(pool: Pool, model: TableModel, version: number, row: Row): Promise<void> {
  const names = model.columns.map((column) => column.name);
  const values = names.map((name) => row[name] ?? null);
  const placeholders = model.columns.map((column, i) => `$${i + 1}::${column.type}`).join(", ");
  const updates = names.filter((name) => name !== model.key).map((name) => `${name} = excluded.${name}`).join(", ");
  await pool.query(`INSERT INTO ${tableName(model.table, version)} (${names.join(", ")}) VALUES (${placeholders}) ON CONFLICT (${model.key}) DO UPDATE SET ${updates}`, values);
}

/** Applies events as one batch per definition to the tables and (when given) Redis. */
export async function projectEvents(options: { pool: Pool; redis: Redis | null; definitions: readonly ProjectionDefinition[]; events: readonly RecordedEvent[] }): Promise<void> {
  for (const definition of options.definitions) {
    const relevant = options.events.filter((event) => definition.handles.has(event.type));
    const rows = new Map<string, Row>();
    for (const model of definition.tables) {
      const keys = [...new Set(relevant.flatMap((event) => definition.touches(event)).filter((ref) => ref.table === model.table).map((ref) => ref.key))];
      if (keys.length > 0) for (const [id, row] of await loadRows(options.pool, model, definition.version, keys)) rows.set(id, row);
    }
    const { changed, views } = foldBatch(definition, rows, relevant);
    for (const entry of changed.values()) {
      const model = definition.tables.find((table) => table.table === entry.table)!;
      if (entry.row === undefined) await options.pool.query(`DELETE FROM ${tableName(model.table, definition.version)} WHERE ${model.key}::text = $1`, [entry.key]);
      else await writeRow(options.pool, model, definition.version, entry.row);
    }
    if (options.redis === null || views.length === 0) continue;
    const pipeline = options.redis.pipeline();
    for (const op of views) {
      if (op.op === "set") pipeline.set(op.key, op.value);
      else if (op.op === "del") pipeline.del(op.key);
      else if (op.op === "zadd") pipeline.zadd(op.key, op.score, op.member);
      else if (op.op === "zrem") pipeline.zrem(op.key, op.member);
      else if (op.op === "hset") pipeline.hset(op.key, op.field, op.value);
      else pipeline.hdel(op.key, op.field);
    }
    await pipeline.exec();
  }
}
