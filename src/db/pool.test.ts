import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../testing/db.ts";
import { inTransaction } from "./pool.ts";

describe.skipIf(!databaseAvailable)(`inTransaction${databaseAvailable ? "" : ` (${databaseSkipReason})`}`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    // One connection: a client not released, or left inside a transaction, shows in the next call.
    db = await createTestDatabase({ migrate: false, poolSize: 1 });
    await db.pool.query("CREATE TABLE tx_probe (n int)");
  });
  afterAll(async () => db?.drop());

  const count = async (): Promise<number> => Number((await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM tx_probe")).rows[0]!.n);

  it("commits what the work wrote and answers its result", async () => {
    const result = await inTransaction(db.pool, async (client) => {
      await client.query("INSERT INTO tx_probe VALUES (1), (2)");
      return "done";
    });
    expect(result).toBe("done");
    expect(await count()).toBe(2);
  });

  it("rolls back everything when the work throws, rethrows, and gives the client back outside a transaction", async () => {
    const failure = new Error("work failed");
    await expect(
      inTransaction(db.pool, async (client) => {
        await client.query("INSERT INTO tx_probe VALUES (3)");
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await count()).toBe(2);
    // A failed statement aborts the transaction; the client still comes back usable.
    await expect(inTransaction(db.pool, (client) => client.query("SELECT no_such_column FROM tx_probe"))).rejects.toThrow(/no_such_column/);
    const state = await db.pool.query<{ now: string }>("SELECT now() = statement_timestamp() AS now");
    expect(state.rows[0]!.now).toBe(true);
  });
});
