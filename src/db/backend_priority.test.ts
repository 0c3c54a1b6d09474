import { readFileSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool } from "./pool.ts";
import { lowerBackendPriority } from "./backend_priority.ts";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../testing/db.ts";

/** Niceness of a local process (field 19 of /proc/<pid>/stat). */
function niceOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
}

const local = databaseAvailable && /@(127\.|localhost)/.test(process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres");
const root = process.getuid?.() === 0;
const reason = !databaseAvailable ? databaseSkipReason : !local ? "needs PostgreSQL on this machine (DATABASE_URL on 127.0.0.1)" : "needs to run as root to renice the postgres user's processes";

describe.skipIf(!local || !root)(local && root ? "lowering a PostgreSQL backend's priority" : `backend priority: skipped, ${reason}`, () => {
  let db: TestDatabase;
  /** The test database over loopback TCP (what lowerBackendPriority requires). */
  let url: string;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false, poolSize: 1 });
    url = db.url.replace("localhost", "127.0.0.1");
  });
  afterAll(async () => db?.drop());

  it("renices the backend serving a loopback connection, and only that one", async () => {
    const client = new pg.Client({ connectionString: url });
    const other = new pg.Client({ connectionString: url });
    await client.connect();
    await other.connect();
    try {
      const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
      const otherPid = (await other.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
      const otherBefore = niceOf(otherPid);
      expect(await lowerBackendPriority(client, 7)).toBe(true);
      expect(niceOf(pid)).toBe(7);
      expect(niceOf(otherPid)).toBe(otherBefore);
    } finally {
      await client.end();
      await other.end();
    }
  });

  it("a pool with backendNiceness lowers each connection's backend before its first query", async () => {
    const pool = createPool({ connectionString: url, max: 2, backendNiceness: 9 });
    try {
      const [a, b] = await Promise.all([
        pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid, pg_sleep(0.05)"),
        pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid, pg_sleep(0.05)"),
      ]);
      for (const pid of [a.rows[0]!.pid, b.rows[0]!.pid]) expect(niceOf(pid)).toBe(9);
    } finally {
      await pool.end();
    }
  });
});
