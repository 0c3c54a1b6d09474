/** copy-floor: COPY N finished rows into an empty table with pg-copy-streams — the bulk-write floor. */
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { from as copyFrom } from "pg-copy-streams";
import { createBenchDatabase } from "../lib/database.ts";
import { peakRss, resetOwnPeakRss } from "../lib/rss.ts";
import type { BenchOptions, Measurement, Scenario } from "../lib/types.ts";

function* rows(count: number): Generator<string> {
  const payload = "\\\\x" + "07".repeat(300);
  for (let i = 1; i <= count; i++) {
    yield `${randomUUID()}\torder-${i}\t1\tOrderPlaced\t${payload}\t${payload}\n`;
  }
}

/** COPYs `count` event-shaped rows into a fresh, empty, indexed table; one operation, throughput in rows/s. */
export async function measureCopyFloor(options: BenchOptions, count: number, role: Measurement["role"] = "baseline"): Promise<Measurement> {
  const db = await createBenchDatabase(options.databaseUrl, "copy_floor");
  try {
    const pool = db.pool(1);
    await pool.query("CREATE TABLE floor_events (global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id uuid NOT NULL, stream_id text NOT NULL, stream_version bigint NOT NULL, type text NOT NULL, data bytea NOT NULL, metadata bytea NOT NULL, UNIQUE (stream_id, stream_version))");
    const client = await pool.connect();
    resetOwnPeakRss();
    const begin = performance.now();
    let errors = 0;
    let note: string | undefined;
    try {
      const source = Readable.from(rows(count), { objectMode: false });
      await pipeline(source, client.query(copyFrom("COPY floor_events (event_id, stream_id, stream_version, type, data, metadata) FROM STDIN")));
    } catch (error) {
      errors = 1;
      note = (error as Error).message;
    } finally {
      client.release();
    }
    const elapsedS = (performance.now() - begin) / 1000;
    return {
      label: `copy-floor ${count} rows`,
      role,
      connections: null,
      durationS: Math.round(elapsedS * 1000) / 1000,
      operations: errors ? 0 : count,
      throughput: errors ? 0 : Math.round(count / elapsedS),
      unit: "row",
      latencyMs: null,
      errors,
      peakRssBytes: peakRss(process.pid),
      rssOf: "bench process (client side)",
      ...(note === undefined ? {} : { notes: note }),
    };
  } finally {
    await db.drop();
  }
}

export const copyFloor: Scenario = {
  name: "copy-floor",
  description: "COPY of N finished event-shaped rows into an empty table (the bulk-write floor)",
  async run(options) {
    return { params: { rows: options.rows }, measurements: [await measureCopyFloor(options, options.rows, "subject")], comparisons: [] };
  },
};
