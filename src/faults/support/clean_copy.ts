/**
 * A clean database holding a copy of another's events (COPY TO → COPY FROM, positions
 * and transaction ids kept), and a row-by-row comparison of two databases' read tables.
 */
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { migrate } from "../../db/migrate.ts";
import { createPool } from "../../db/pool.ts";

const EVENT_COLUMNS = "global_position, transaction_id, event_id, stream_id, stream_version, type, data, metadata";

/** Migrates the target database and copies every event of the source into it. */
export async function copyEvents(sourceUrl: string, targetUrl: string): Promise<number> {
  const pool = createPool({ connectionString: targetUrl, max: 2 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  const source = new pg.Client({ connectionString: sourceUrl });
  const target = new pg.Client({ connectionString: targetUrl });
  await source.connect();
  await target.connect();
  try {
    await pipeline(
      source.query(copyTo(`COPY (SELECT ${EVENT_COLUMNS} FROM events ORDER BY transaction_id, global_position) TO STDOUT (FORMAT binary)`)),
      target.query(copyFrom(`COPY events (${EVENT_COLUMNS}) FROM STDIN (FORMAT binary)`)),
    );
    const count = await target.query<{ n: string }>("SELECT count(*) AS n FROM events");
    return Number(count.rows[0]!.n);
  } finally {
    await source.end();
    await target.end();
  }
}

/** Every read table (`<name>_v<version>`) with its rows as JSON text, sorted. */
export async function readTables(databaseUrl: string): Promise<Map<string, string[]>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const tables = await client.query<{ name: string }>(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_name ~ '_v[0-9]+$' ORDER BY 1",
    );
    const result = new Map<string, string[]>();
    for (const { name } of tables.rows) {
      const rows = await client.query<{ row: string }>(`SELECT to_jsonb(t)::text AS row FROM "${name}" AS t ORDER BY 1`);
      result.set(name, rows.rows.map((row) => row.row));
    }
    return result;
  } finally {
    await client.end();
  }
}
