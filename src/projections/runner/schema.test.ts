import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../../testing/db.ts";
import { orders } from "../orders/projection.ts";
import { tableName } from "../define.ts";
import { productCatalog } from "../product_catalog/projection.ts";
import { buildIndexes, createTables, deferIndexes, ensureProjectionSchema, finishIndexes } from "./schema.ts";

describe.skipIf(!databaseAvailable)(`read-model tables${databaseAvailable ? "" : ` (${databaseSkipReason})`}`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("compresses large columns with lz4 where the server has it (pglz elsewhere), and keeps the rows' bytes", async () => {
    const client = await db.pool.connect();
    try {
      const lz4 = (await client.query<{ lz4: boolean }>("SELECT 'lz4' = ANY(enumvals) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'")).rows[0]!.lz4;
      await client.query("BEGIN");
      await createTables(client, orders, 7, false);
      await client.query("COMMIT");
      const table = tableName(orders.tables[0]!.table, 7);
      const columns = await client.query<{ attname: string; attcompression: string }>(
        "SELECT attname, attcompression FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
        [table],
      );
      const compression = Object.fromEntries(columns.rows.map((row) => [row.attname, row.attcompression]));
      expect(compression["view"]).toBe(lz4 ? "l" : "");
      expect(compression["total_cents"]).toBe("");
      // A value large enough to be compressed reads back the same.
      const view = Buffer.from(JSON.stringify({ lines: Array.from({ length: 400 }, (_, i) => ({ sku: `SKU-${i}`, name: "a product name" })) }));
      await client.query(`INSERT INTO ${table} (id, customer_id, status, currency, total_cents, item_count, placed_at, updated_at, version, view) VALUES ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', 'placed', 'EUR', 1, 1, now(), now(), 1, $1)`, [view]);
      const stored = await client.query<{ view: Buffer; size: number }>(`SELECT view, pg_column_size(view) AS size FROM ${table}`);
      expect(stored.rows[0]!.view.equals(view)).toBe(true);
      expect(stored.rows[0]!.size).toBeLessThan(view.length / 4);
    } finally {
      client.release();
    }
  });

  /** The version's indexes: name → unique / primary. */
  async function indexesOf(table: string): Promise<Record<string, string>> {
    const rows = await db.pool.query<{ name: string; kind: string }>(
      `SELECT i.relname AS name, CASE WHEN x.indisprimary THEN 'primary' WHEN x.indisunique THEN 'unique' ELSE 'plain' END AS kind
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = to_regclass($1)`,
      [table],
    );
    return Object.fromEntries(rows.rows.map((row) => [row.name, row.kind]));
  }

  async function indexesBuilt(name: string, version: number): Promise<boolean> {
    return (await db.pool.query<{ built: boolean }>("SELECT indexes_built AS built FROM projections WHERE name = $1 AND version = $2", [name, version])).rows[0]!.built;
  }

  it("defers a fresh version's plain indexes for a bulk load (keys and unique indexes stay) and builds them back once", async () => {
    await ensureProjectionSchema(db.pool, productCatalog, 11);
    const table = tableName(productCatalog.tables[0]!.table, 11);
    const all = await indexesOf(table);
    expect(Object.values(all).filter((kind) => kind === "plain").length).toBeGreaterThan(2);
    expect(await deferIndexes(db.pool, productCatalog, 11)).toBe(true);
    expect(await indexesBuilt(productCatalog.name, 11)).toBe(false);
    const deferred = await indexesOf(table);
    expect(Object.values(deferred).sort()).toEqual(["primary", "unique"]);
    expect(Object.keys(deferred).every((name) => all[name] === deferred[name])).toBe(true);
    // Built back: the same indexes as before; then nothing left to do.
    expect(await finishIndexes(db.pool, productCatalog, 11)).toBe(true);
    expect(await indexesOf(table)).toEqual(all);
    expect(await indexesBuilt(productCatalog.name, 11)).toBe(true);
    expect(await finishIndexes(db.pool, productCatalog, 11)).toBe(false);
  });

  it("leaves indexes alone for a version that is not fresh: rows in its tables, a watermark, or a replay's version", async () => {
    const table = (version: number): string => tableName(orders.tables[0]!.table, version);
    // Rows in the table.
    await ensureProjectionSchema(db.pool, orders, 21);
    await db.pool.query(`INSERT INTO ${table(21)} (id, customer_id, status, currency, total_cents, item_count, placed_at, updated_at, version) VALUES ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', 'placed', 'EUR', 1, 1, now(), now(), 1)`);
    // A watermark past the start.
    await ensureProjectionSchema(db.pool, orders, 22);
    await db.pool.query("UPDATE projections SET position = '5-1' WHERE name = $1 AND version = 22", [orders.name]);
    // A replay's version (it builds its own indexes at the head).
    await ensureProjectionSchema(db.pool, orders, 23);
    await db.pool.query("UPDATE projections SET state = 'building' WHERE name = $1 AND version = 23", [orders.name]);
    for (const version of [21, 22, 23]) {
      const before = await indexesOf(table(version));
      expect(Object.values(before)).toContain("plain");
      expect(await deferIndexes(db.pool, orders, version)).toBe(false);
      expect(await indexesOf(table(version))).toEqual(before);
      expect(await indexesBuilt(orders.name, version)).toBe(true);
    }
  });

  it("builds deferred indexes all or none: one that fails leaves the others unbuilt and the version still to index", async () => {
    await ensureProjectionSchema(db.pool, productCatalog, 31);
    const table = tableName(productCatalog.tables[0]!.table, 31);
    const all = await indexesOf(table);
    expect(await deferIndexes(db.pool, productCatalog, 31)).toBe(true);
    const deferred = await indexesOf(table);
    // The same definition with one more index, last, on a column that does not exist.
    const model = productCatalog.tables[0]!;
    const broken = { ...productCatalog, tables: [{ ...model, indexes: (physical: string) => [...model.indexes(physical), `CREATE INDEX ${physical}_bad ON ${physical} (no_such_column)`] }] };
    await expect(buildIndexes(db.pool, broken, 31)).rejects.toThrow(/no_such_column/);
    expect(await indexesOf(table)).toEqual(deferred);
    expect(await indexesBuilt(productCatalog.name, 31)).toBe(false);
    expect(await finishIndexes(db.pool, productCatalog, 31)).toBe(true);
    expect(await indexesOf(table)).toEqual(all);
  });
});
