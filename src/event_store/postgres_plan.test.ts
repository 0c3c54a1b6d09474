/**
 * The plan of the log read on a 100,000-event store: an ordered walk of events_global_order
 * that stops at the limit, with no sort, no bitmap scan, no parallel workers and no JIT,
 * in the sessions the store reads the log on, whatever the planner's estimates. Before the
 * first ANALYZE of a freshly filled log (a service started right after a seed or an import,
 * autovacuum not yet round) the planner guesses a third of the table for any range of
 * positions and plans a bulk read as a parallel bitmap scan and a sort of everything after
 * the position: the first test shows that plan in a default session, so the others are a
 * real check that the store's sessions walk the index instead.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SESSION_DEFAULTS } from "../db/pool.ts";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../testing/db.ts";
import { LOG_READ_SETTINGS, LOG_READ_SQL } from "./postgres.ts";

const EVENTS = 100_000;
const BULK_LIMIT = 20_000;

interface PlanNode {
  "Node Type": string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

function nodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(nodes)];
}

describe.skipIf(!databaseAvailable)(databaseAvailable ? "log read plan on 100,000 events" : `log read plan: skipped, ${databaseSkipReason}`, () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase({ poolSize: 2 });
    await db.pool.query(`
      ALTER TABLE events SET (autovacuum_enabled = off);
      INSERT INTO events (event_id, stream_id, stream_version, type, data, metadata)
      SELECT md5(i::text)::uuid, 'order-' || md5(i::text)::uuid, 1, 'OrderPlaced', decode(repeat(md5(i::text), 18), 'hex'), decode(repeat(md5(i::text), 5), 'hex')
        FROM generate_series(1, ${EVENTS}) AS i`); // payloads of ~290 and ~80 bytes, about a seeded order's
    // No ANALYZE (and autovacuum off for the table): the planner's estimates are its defaults.
  });
  afterAll(async () => db?.drop());

  async function plan(settings: Readonly<Record<string, string>>, after: [string, string], limit: number): Promise<{ nodes: PlanNode[]; jit: boolean }> {
    const client = new pg.Client({ connectionString: db.url, options: Object.entries(settings).map(([name, value]) => `-c ${name}=${value}`).join(" ") });
    await client.connect();
    try {
      const result = await client.query<{ "QUERY PLAN": [{ Plan: PlanNode; JIT?: unknown }] }>(`EXPLAIN (FORMAT JSON) ${LOG_READ_SQL}`, [...after, limit]);
      const [top] = result.rows[0]!["QUERY PLAN"];
      return { nodes: nodes(top.Plan), jit: top.JIT !== undefined };
    } finally {
      await client.end();
    }
  }

  const kinds = (found: PlanNode[]): string[] => found.map((node) => node["Node Type"]);

  it("without the store's settings, a bulk read from the start is planned as a bitmap scan and a sort", async () => {
    const { nodes: found } = await plan({}, ["0", "0"], BULK_LIMIT);
    expect(kinds(found).some((kind) => kind === "Sort" || kind === "Bitmap Heap Scan" || kind.startsWith("Gather"))).toBe(true);
  });

  for (const [label, limit] of [["bulk", BULK_LIMIT], ["live", 2_000]] as const) {
    it(`with them, a ${label} read (limit ${limit}) walks events_global_order in order: no sort, bitmap, parallel workers or JIT`, async () => {
      const middle = (await db.pool.query<{ tx: string; global_position: string }>(
        "SELECT transaction_id::text AS tx, global_position FROM events ORDER BY transaction_id, global_position OFFSET $1 LIMIT 1",
        [EVENTS / 2],
      )).rows[0]!;
      for (const after of [["0", "0"], [middle.tx, middle.global_position]] as [string, string][]) {
        const { nodes: found, jit } = await plan({ ...SESSION_DEFAULTS, ...LOG_READ_SETTINGS }, after, limit);
        const kindList = kinds(found);
        expect(kindList).not.toContain("Sort");
        expect(kindList).not.toContain("Seq Scan");
        expect(kindList).not.toContain("Bitmap Heap Scan");
        expect(kindList.filter((kind) => kind.startsWith("Gather"))).toEqual([]);
        expect(found.some((node) => node["Node Type"] === "Index Scan" && node["Index Name"] === "events_global_order")).toBe(true);
        expect(jit).toBe(false);
      }
    });
  }
});
