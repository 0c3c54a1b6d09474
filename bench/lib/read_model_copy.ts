/**
 * The write floor for read models: COPY of the service's finished read-model rows (every
 * table of the serving version, all columns including the prepared bytes) into empty
 * tables of the same shape (same DDL and indexes, from the projection definitions) in a
 * fresh database, timed per projection. Rows are exported to temporary files first, so
 * the timing covers only the COPY into the empty tables.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { projections } from "../../src/projections/all.ts";
import { createTables } from "../../src/projections/runner/schema.ts";
import { createBenchDatabase } from "./database.ts";
import { peakRss, resetOwnPeakRss } from "./rss.ts";
import type { Measurement } from "./types.ts";

export interface ReadModelCopy {
  projection: string;
  version: number;
  tables: string[];
  rows: number;
  bytes: number;
  /** Wall time of the COPYs into the empty tables (the projection's tables in parallel, one connection each). */
  seconds: number;
}

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Copies the serving version's read tables of each projection (all when `names` is null) from `sourceUrl` into a fresh database on `baseUrl`; the fresh database is dropped afterwards. */
export async function copyReadModels(baseUrl: string, sourceUrl: string, names: readonly string[] | null = null): Promise<ReadModelCopy[]> {
  const source = new pg.Pool({ connectionString: sourceUrl, max: 4 });
  source.on("error", () => undefined);
  const db = await createBenchDatabase(baseUrl, "read_copy");
  resetOwnPeakRss();
  const dir = await mkdtemp(join(tmpdir(), "bench-read-copy-"));
  try {
    const serving = await source.query<{ name: string; version: number }>("SELECT name, version FROM projection_active ORDER BY name");
    const target = db.pool(8, { synchronousCommit: false });
    const copies: ReadModelCopy[] = [];
    for (const { name, version } of serving.rows) {
      if (names !== null && !names.includes(name)) continue;
      const definition = projections.find((candidate) => candidate.name === name);
      if (!definition) throw new Error(`no projection definition named ${name}`);
      const client = await target.connect();
      let tables: string[];
      try {
        tables = await createTables(client, definition, version, true);
      } finally {
        client.release();
      }
      let bytes = 0;
      for (const physical of tables) {
        const reader = await source.connect();
        try {
          await pipeline(reader.query(copyTo(`COPY (SELECT * FROM ${quote(physical)}) TO STDOUT (FORMAT binary)`)), createWriteStream(join(dir, physical)));
        } finally {
          reader.release();
        }
        bytes += (await stat(join(dir, physical))).size;
      }
      const begin = performance.now();
      const counts = await Promise.all(tables.map(async (physical) => {
        const writer = await target.connect();
        try {
          const stream = writer.query(copyFrom(`COPY ${quote(physical)} FROM STDIN (FORMAT binary)`));
          await pipeline(createReadStream(join(dir, physical)), stream);
          return Number(stream.rowCount);
        } finally {
          writer.release();
        }
      }));
      const seconds = (performance.now() - begin) / 1000;
      copies.push({ projection: name, version, tables, rows: counts.reduce((sum, n) => sum + n, 0), bytes, seconds });
    }
    return copies;
  } finally {
    await source.end().catch(() => undefined);
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** A baseline Measurement for copies: throughput in events-worth per second (`events` = the events the subject processed to build those rows), rows in the notes. */
export function copyFloorMeasurement(label: string, copies: readonly ReadModelCopy[], events: number): Measurement {
  const seconds = copies.reduce((sum, copy) => sum + copy.seconds, 0);
  const rows = copies.reduce((sum, copy) => sum + copy.rows, 0);
  const bytes = copies.reduce((sum, copy) => sum + copy.bytes, 0);
  return {
    label, role: "baseline", connections: null, durationS: Math.round(seconds * 1000) / 1000, operations: events,
    throughput: seconds > 0 ? Math.round(events / seconds) : 0, unit: "event", latencyMs: null, errors: 0,
    peakRssBytes: peakRss(process.pid), rssOf: "bench process (client side)",
    notes: `COPY (binary) of ${rows} finished rows, ${(bytes / 1048576).toFixed(1)} MiB, into empty indexed tables (${copies.flatMap((c) => c.tables).join(", ")}); ${Math.round(rows / Math.max(seconds, 1e-9))} rows/s; events-worth/s = ${events} events / COPY seconds`,
  };
}
