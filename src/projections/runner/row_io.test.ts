import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../../testing/db.ts";
import { arrayLiteral } from "./row_io.ts";

describe.skipIf(!databaseAvailable)(`row_io literals${databaseAvailable ? "" : ` (${databaseSkipReason})`}`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("inlines any key as a text-array literal PostgreSQL reads back unchanged", async () => {
    const keys = ["plain", "with space", 'quote"d', "back\\slash", "it's", "{braces}", "comma,separated", "NULL", "", "ünïcødé ✓", "tab\tand\nnewline", "\\\"'"];
    const client = await db.pool.connect();
    try {
      const result = await client.query<{ keys: string[] }>(`SELECT ${arrayLiteral(client, keys)}::text[] AS keys`);
      expect(result.rows[0]!.keys).toEqual(keys);
    } finally {
      client.release();
    }
  });
});
