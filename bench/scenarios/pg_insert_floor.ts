/** pg-insert-floor: plain single-row INSERTs through pg at a given concurrency — the baseline for commands. */
import { randomUUID } from "node:crypto";
import { runClosedLoop } from "../lib/closed_loop.ts";
import { createBenchDatabase, poolSizeFor } from "../lib/database.ts";
import type { BenchOptions, Measurement, Scenario } from "../lib/types.ts";

/** A payload about the size of an encoded OrderPlaced event with two lines. */
const PAYLOAD = Buffer.alloc(600, 7);

/** Measures single-row INSERT throughput at `connections` (one pool connection per lane) on a fresh database. */
export async function measurePgInsertFloor(options: BenchOptions, connections: number, role: Measurement["role"] = "baseline"): Promise<Measurement> {
  const db = await createBenchDatabase(options.databaseUrl, "insert_floor");
  try {
    const pool = db.pool(poolSizeFor(connections));
    await pool.query("CREATE TABLE floor_rows (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, stream_id text NOT NULL, type text NOT NULL, data bytea NOT NULL)");
    await Promise.all(Array.from({ length: poolSizeFor(connections) }, () => pool.query("SELECT 1")));
    return await runClosedLoop({
      label: `pg-insert-floor @${connections}`,
      role,
      unit: "insert",
      concurrency: connections,
      durationS: options.durationS,
      operation: async () => {
        await pool.query({ name: "floor_insert", text: "INSERT INTO floor_rows (stream_id, type, data) VALUES ($1, $2, $3)", values: [`order-${randomUUID()}`, "OrderPlaced", PAYLOAD] });
      },
    });
  } finally {
    await db.drop();
  }
}

export const pgInsertFloor: Scenario = {
  name: "pg-insert-floor",
  description: "plain single-row INSERTs through pg at the same concurrency (the baseline for commands)",
  async run(options) {
    const measurements: Measurement[] = [];
    for (const connections of options.connections) measurements.push(await measurePgInsertFloor(options, connections, "subject"));
    return { params: { payloadBytes: PAYLOAD.length }, measurements, comparisons: [] };
  },
};
