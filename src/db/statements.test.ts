import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../testing/db.ts";
import { named, SessionStatements } from "./statements.ts";

describe.skipIf(!databaseAvailable)(`prepared statements${databaseAvailable ? "" : ` (${databaseSkipReason})`}`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false, poolSize: 2 });
    await db.pool.query("CREATE TABLE stmt_probe (id int PRIMARY KEY, label text)");
    await db.pool.query("INSERT INTO stmt_probe VALUES (1, 'one'), (2, 'two'), (3, 'three')");
  });
  afterAll(async () => db?.drop());

  const preparedNames = async (client: { query: (sql: string) => Promise<{ rows: { name: string }[] }> }): Promise<string[]> =>
    (await client.query("SELECT name FROM pg_prepared_statements ORDER BY name")).rows.map((row) => row.name);

  it("prepares a statement once per session and runs it with literal parameters inside a multi-statement message", async () => {
    const statements = new SessionStatements("probe");
    const sql = "SELECT id, label FROM stmt_probe WHERE id = ANY($1::int[]) ORDER BY id";
    const first = await db.pool.connect();
    const second = await db.pool.connect();
    try {
      await statements.prepare(first, [sql]);
      await statements.prepare(first, [sql]); // already there: no second PREPARE (it would fail)
      expect(await preparedNames(first)).toEqual([statements.nameOf(sql)]);
      expect(await preparedNames(second)).toEqual([]);
      const results = (await first.query(`BEGIN; ${statements.execute(sql, ["'{3,1}'"])}; COMMIT`)) as unknown as { rows: unknown[] }[];
      expect(results[1]!.rows).toEqual([{ id: 1, label: "one" }, { id: 3, label: "three" }]);
      // Another session prepares its own the first time it needs it.
      await statements.prepare(second, [sql]);
      expect((await second.query(statements.execute(sql, ["'{2}'"]))).rows).toEqual([{ id: 2, label: "two" }]);
    } finally {
      first.release();
      second.release();
    }
  });

  it("keeps one name per text, and a PREPARE kept through a rolled-back transaction is not prepared again", async () => {
    const statements = new SessionStatements("again");
    expect(statements.nameOf("SELECT 1")).toBe(statements.nameOf("SELECT 1"));
    expect(statements.nameOf("SELECT 1")).not.toBe(statements.nameOf("SELECT 2"));
    const client = await db.pool.connect();
    try {
      await client.query("BEGIN");
      await statements.prepare(client, ["SELECT $1::int + 1 AS n"]);
      await client.query("ROLLBACK");
      await statements.prepare(client, ["SELECT $1::int + 1 AS n"]);
      expect((await client.query(statements.execute("SELECT $1::int + 1 AS n", ["41"]))).rows).toEqual([{ n: 42 }]);
    } finally {
      client.release();
    }
  });

  it("re-plans by itself when the table is dropped and created again", async () => {
    const statements = new SessionStatements("replan");
    const sql = "SELECT label FROM stmt_replan WHERE id = $1";
    const client = await db.pool.connect();
    try {
      await client.query("CREATE TABLE stmt_replan (id int PRIMARY KEY, label text); INSERT INTO stmt_replan VALUES (1, 'before')");
      await statements.prepare(client, [sql]);
      expect((await client.query(statements.execute(sql, ["1"]))).rows).toEqual([{ label: "before" }]);
      // named(): the same for protocol-level statements, prepared on this connection before the table goes.
      const query = named("SELECT label FROM stmt_replan WHERE id = $1", [1]);
      expect(query.name).toBe(named("SELECT label FROM stmt_replan WHERE id = $1", [2]).name);
      expect((await client.query(query)).rows).toEqual([{ label: "before" }]);
      await client.query("DROP TABLE stmt_replan; CREATE TABLE stmt_replan (id int PRIMARY KEY, label text); INSERT INTO stmt_replan VALUES (1, 'after')");
      expect((await client.query(statements.execute(sql, ["1"]))).rows).toEqual([{ label: "after" }]);
      expect((await client.query(query)).rows).toEqual([{ label: "after" }]);
    } finally {
      client.release();
    }
  });
});
