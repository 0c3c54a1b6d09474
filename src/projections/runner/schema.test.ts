import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../../testing/db.ts";
import { orders } from "../orders/projection.ts";
import { tableName } from "../define.ts";
import { createTables } from "./schema.ts";

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
});
