/**
 * Read-model DDL: creates a projection version's tables (and their indexes) when they do
 * not exist yet, and registers the version in `projections` / `projection_active`.
 */
import type { Pool } from "../../db/pool.ts";
import type { ProjectionDefinition } from "../define.ts";
import { tableName } from "../define.ts";
import { ident } from "./row_io.ts";

const SCHEMA_LOCK = 7_412_903_002;

/** Creates missing tables and indexes for the definition's version; idempotent and safe across processes. */
export async function ensureProjectionSchema(pool: Pool, definition: ProjectionDefinition, version = definition.version): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1)", [SCHEMA_LOCK]);
    for (const model of definition.tables) {
      const physical = tableName(model.table, version);
      const exists = await client.query("SELECT to_regclass($1) IS NOT NULL AS present", [physical]);
      if (exists.rows[0]?.present) continue;
      const columns = model.columns.map((column) => `${ident(column.name)} ${column.type}${column.name === model.key ? " PRIMARY KEY" : ""}`);
      await client.query(`CREATE TABLE ${ident(physical)} (${columns.join(", ")})`);
      for (const ddl of model.indexes(physical)) await client.query(ddl);
    }
    await client.query("INSERT INTO projections (name, version) VALUES ($1, $2) ON CONFLICT DO NOTHING", [definition.name, version]);
    await client.query("INSERT INTO projection_active (name, version) VALUES ($1, $2) ON CONFLICT DO NOTHING", [definition.name, version]);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
