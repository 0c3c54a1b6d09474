/**
 * Read-model DDL: creates a projection version's tables (and their indexes) when they do
 * not exist yet, and registers the version in `projections` (with the definition version
 * that builds it and its physical tables) and, for a first install, in `projection_active`.
 */
import { inTransaction, type Pool, type PoolClient } from "../../db/pool.ts";
import type { ProjectionDefinition } from "../define.ts";
import { tableName } from "../define.ts";
import { ident } from "./row_io.ts";

const SCHEMA_LOCK = 7_412_903_002;
const DUPLICATE_OBJECT = new Set(["42P07", "42710"]);

/** Column types whose large values PostgreSQL compresses (TOAST). */
const COMPRESSIBLE = /^(bytea|text|jsonb|json)$/i;

/** True when the server compresses with lz4 (built with it: PostgreSQL 14+ lists it among default_toast_compression's values). */
async function hasLz4(client: PoolClient): Promise<boolean> {
  const result = await client.query<{ lz4: boolean | null }>("SELECT 'lz4' = ANY(enumvals) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'");
  return result.rows[0]?.lz4 === true;
}

/**
 * Creates the version's missing tables (secondary indexes only when asked); returns the
 * physical names. Large values (prepared views) are compressed with lz4 where the server has
 * it: pglz took 12% of PostgreSQL's CPU in a bulk build (rows of orders with long answers).
 */
export async function createTables(client: PoolClient, definition: ProjectionDefinition, version: number, withIndexes: boolean): Promise<string[]> {
  await client.query("SELECT pg_advisory_xact_lock($1)", [SCHEMA_LOCK]);
  const names: string[] = [];
  let lz4: boolean | null = null;
  for (const model of definition.tables) {
    const physical = tableName(model.table, version);
    names.push(physical);
    const exists = await client.query("SELECT to_regclass($1) IS NOT NULL AS present", [physical]);
    if (exists.rows[0]?.present) continue;
    lz4 ??= await hasLz4(client);
    const compression = (type: string): string => (lz4 && COMPRESSIBLE.test(type) ? " COMPRESSION lz4" : "");
    const columns = model.columns.map((column) => `${ident(column.name)} ${column.type}${compression(column.type)}${column.name === model.key ? " PRIMARY KEY" : ""}`);
    await client.query(`CREATE TABLE ${ident(physical)} (${columns.join(", ")})`);
    if (withIndexes) for (const ddl of model.indexes(physical)) await client.query(ddl);
  }
  return names;
}

/**
 * Creates the secondary indexes of a version whose indexes are not built (deferred for a bulk
 * load, or a replay's version) and records them built, in one transaction: a run stopped or
 * killed half-way leaves neither a flag that lies nor a half set (the next run builds them
 * all). An index that already exists is kept. Returns false when they were built already
 * (by another process, say), or when `state` is given and the version is in another state.
 */
export function buildIndexes(pool: Pool, definition: ProjectionDefinition, version: number, state?: string): Promise<boolean> {
  return inTransaction(pool, async (client) => {
    const row = await client.query<{ state: string; indexes_built: boolean }>("SELECT state, indexes_built FROM projections WHERE name = $1 AND version = $2 FOR UPDATE", [
      definition.name,
      version,
    ]);
    const found = row.rows[0];
    if (found === undefined || found.indexes_built || (state !== undefined && found.state !== state)) return false;
    for (const model of definition.tables) {
      for (const ddl of model.indexes(tableName(model.table, version))) {
        await client.query("SAVEPOINT index");
        try {
          await client.query(ddl);
          await client.query("RELEASE SAVEPOINT index");
        } catch (error) {
          if (!DUPLICATE_OBJECT.has((error as { code?: string }).code ?? "")) throw error;
          await client.query("ROLLBACK TO SAVEPOINT index");
        }
      }
    }
    await client.query("UPDATE projections SET indexes_built = true WHERE name = $1 AND version = $2", [definition.name, version]);
    return true;
  });
}

/** True when none of the version's tables holds a row. */
export async function tablesEmpty(client: PoolClient, definition: ProjectionDefinition, version: number): Promise<boolean> {
  for (const model of definition.tables) {
    const found = await client.query(`SELECT 1 FROM ${ident(tableName(model.table, version))} LIMIT 1`);
    if ((found.rowCount ?? 0) > 0) return false;
  }
  return true;
}

/**
 * Lets a fresh version of the serving kind (state 'live', indexes built, nothing applied,
 * empty tables) load in bulk without maintaining its secondary indexes: drops them (plain
 * indexes only: primary keys and unique indexes stay) and records `indexes_built = false`, so
 * whoever runs the version next builds them (finishIndexes). Maintaining the orders table's
 * two indexes row by row took 3.9 s of PostgreSQL's CPU in a 1M-event build (8.2 against
 * 4.3 s); building them once afterwards, 0.6 s. Readers meanwhile: collections come from
 * Redis (a fresh version's views are complete from the start), rows by primary key.
 * Returns true when it dropped them.
 */
export function deferIndexes(pool: Pool, definition: ProjectionDefinition, version: number): Promise<boolean> {
  return inTransaction(pool, async (client) => {
    const row = await client.query<{ state: string; indexes_built: boolean; position: string }>(
      "SELECT state, indexes_built, position FROM projections WHERE name = $1 AND version = $2 FOR UPDATE",
      [definition.name, version],
    );
    const found = row.rows[0];
    const fresh = found !== undefined && found.state === "live" && found.indexes_built && found.position === "0-0" && (await tablesEmpty(client, definition, version));
    if (!fresh) return false;
    for (const model of definition.tables) {
      const indexes = await client.query<{ name: string }>(
        `SELECT i.relname AS name FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
          WHERE x.indrelid = to_regclass($1) AND NOT x.indisprimary AND NOT x.indisunique`,
        [tableName(model.table, version)],
      );
      for (const { name } of indexes.rows) await client.query(`DROP INDEX IF EXISTS ${ident(name)}`);
    }
    await client.query("UPDATE projections SET indexes_built = false WHERE name = $1 AND version = $2", [definition.name, version]);
    return true;
  });
}

/**
 * Builds the secondary indexes of a serving-kind version whose indexes were deferred
 * (deferIndexes) and records them built; nothing when they are (a replay's version builds its
 * own). Returns true when it built them.
 */
export function finishIndexes(pool: Pool, definition: ProjectionDefinition, version: number): Promise<boolean> {
  return buildIndexes(pool, definition, version, "live");
}

/** Creates missing tables and indexes for a version and registers it (serving it when nothing serves yet); idempotent across processes. */
export function ensureProjectionSchema(pool: Pool, definition: ProjectionDefinition, version = definition.version): Promise<void> {
  return inTransaction(pool, async (client) => {
    const tables = await createTables(client, definition, version, true);
    await client.query("INSERT INTO projections (name, version, definition_version, tables) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", [
      definition.name,
      version,
      definition.version,
      tables,
    ]);
    await client.query("INSERT INTO projection_active (name, version) VALUES ($1, $2) ON CONFLICT DO NOTHING", [definition.name, version]);
  });
}
