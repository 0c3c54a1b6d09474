import { afterAll, describe, expect, it } from "vitest";
import { databaseAvailable, databaseSkipReason } from "../src/testing/db.ts";
import { parseBenchArgs } from "./lib/args.ts";
import { renderResults } from "./lib/results_md.ts";
import { runScenario } from "./lib/run_scenario.ts";
import type { ScenarioResult } from "./lib/types.ts";
import { copyFloor } from "./scenarios/copy_floor.ts";
import { emmettRebuild } from "./scenarios/emmett_rebuild.ts";
import { httpFloor } from "./scenarios/http_floor.ts";
import { SCENARIOS } from "./scenarios/index.ts";
import { pgInsertFloor } from "./scenarios/pg_insert_floor.ts";
import { mixedSteady } from "./scenarios/mixed_steady.ts";
import { rssGrowth, soak, soakPlan, type RssSample } from "./scenarios/soak.ts";
import { stopSharedTarget } from "./lib/target.ts";
import { migrate } from "../src/db/migrate.ts";
import { projections } from "../src/projections/all.ts";
import { ensureProjectionSchema } from "../src/projections/runner/schema.ts";
import { seedSizeForEvents } from "../src/seed/seed.ts";
import { createBenchDatabase } from "./lib/database.ts";
import { requestGenerators } from "./lib/requests.ts";
import { READING_PLACEHOLDER } from "./lib/results_md.ts";
import { activeReadTables, measureSqlFloor, sqlForRequest } from "./lib/sql_floor.ts";

const options = { ...parseBenchArgs(["--smoke", "--duration", "1", "--connections", "2", "--rows", "2000", "--quiet"]).options };

function expectWellFormed(result: ScenarioResult, unit: string): void {
  expect(result.skipped).toBeUndefined();
  expect(result.smoke).toBe(true);
  expect(result.machine.nproc).toBeGreaterThan(0);
  expect(result.measurements.length).toBeGreaterThan(0);
  for (const m of result.measurements) {
    expect(m.unit).toBe(unit);
    expect(m.errors).toBe(0);
    expect(m.operations).toBeGreaterThan(0);
    expect(m.throughput).toBeGreaterThan(0);
    expect(Number.isFinite(m.durationS)).toBe(true);
    if (m.latencyMs) for (const value of [m.latencyMs.p50, m.latencyMs.p95, m.latencyMs.p99, m.latencyMs.max]) expect(Number.isFinite(value)).toBe(true);
  }
  expect(renderResults([result])).toContain(result.scenario);
}

describe("bench harness", () => {
  afterAll(async () => {
    await stopSharedTarget();
  }, 60_000);

  it("names every scenario once and parses the command line", () => {
    const names = SCENARIOS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of ["http-floor", "pg-insert-floor", "copy-floor", "emmett-append", "place-order", "freshness", "replay", "mixed-90-10-steady", "soak"]) expect(names).toContain(name);
    expect(names).not.toContain("mixed-90-10-soak");
    const parsed = parseBenchArgs(["place-order", "--duration", "10", "--connections", "32,128"]);
    expect(parsed.scenarios).toEqual(["place-order"]);
    expect(parsed.options.connections).toEqual([32, 128]);
    expect(parsed.options.durationSet).toBe(true);
    expect(parsed.options.rate).toBeNull();
    const open = parseBenchArgs(["soak", "--rate", "500", "--soak-minutes", "1"]).options;
    expect([open.rate, open.soakMinutes, open.durationSet]).toEqual([500, 1, false]);
    expect(() => parseBenchArgs(["--rate", "0"])).toThrow();
    expect(() => parseBenchArgs(["--url", "http://example.com:80"])).toThrow();
  });

  it("http-floor gives a well-formed measurement with latencies and the floor server's peak RSS", async () => {
    const result = await runScenario(httpFloor, options);
    expectWellFormed(result, "req");
    expect(result.measurements[0]!.latencyMs).not.toBeNull();
    expect(result.measurements[0]!.peakRssBytes).toBeGreaterThan(0);
  });

  it.skipIf(!databaseAvailable)(`pg-insert-floor gives a well-formed measurement${databaseAvailable ? "" : ` (${databaseSkipReason})`}`, async () => {
    expectWellFormed(await runScenario(pgInsertFloor, options), "insert");
  });

  it.skipIf(!databaseAvailable)(`copy-floor copies every row${databaseAvailable ? "" : ` (${databaseSkipReason})`}`, async () => {
    const result = await runScenario(copyFloor, options);
    expectWellFormed(result, "row");
    expect(result.measurements[0]!.operations).toBe(2000);
  });

  it("maps a deep-cursor product-list request to the service's keyset SQL", () => {
    const cursor = Buffer.from(JSON.stringify(["products:best_selling", 7, "00000000-0000-4000-8000-000000000001"])).toString("base64url");
    const statement = sqlForRequest({ path: `/v1/products?category=books&sort=best_selling&limit=20&cursor=${cursor}` }, { products: "products_v3" });
    expect(statement.text).toContain("FROM products_v3");
    expect(statement.text).toContain("units_sold <=");
    expect(statement.values).toEqual(["books", 7, "00000000-0000-4000-8000-000000000001", 21, "active"]);
  });

  it("renders latency goals and reading placeholders", () => {
    const base = { scenario: "freshness", description: "d", startedAt: "2026-01-01T00:00:00.000Z", smoke: false, params: {}, comparisons: [], machine: { nproc: 2, memoryBytes: 1, cpuModel: "x", node: "v20", postgres: "15", platform: "linux" } };
    const markdown = renderResults([{ ...base, measurements: [], latencyGoals: [{ measurement: "visible-after @200/s", percentile: "p99", goalMs: 50, valueMs: 12, met: true }] }]);
    expect(markdown).toContain("visible-after @200/s p99 = 12.00 ms (goal ≤ 50 ms: met)");
    expect(markdown).toContain(READING_PLACEHOLDER);
    expect(markdown).toContain("date: 2026-01-01");
  });

  it("soak windows: warm-up 2 min and 1-min medians at 10 min, scaled down for short runs", () => {
    expect(soakPlan(600)).toEqual({ totalS: 600, warmUpS: 120, windowS: 60, sampleEveryS: 5 });
    expect(soakPlan(60)).toEqual({ totalS: 60, warmUpS: 12, windowS: 6, sampleEveryS: 1 });
    const samples: RssSample[] = [];
    for (let t = 0; t <= 600; t += 5) samples.push([t, t < 120 ? 100 + t : t < 540 ? 200 : 210]);
    const rss = rssGrowth(samples, soakPlan(600));
    expect(rss).toMatchObject({ afterWarmUpMiB: 200, endMiB: 210, growthPct: 5, maxMiB: 215, afterWarmUpSamples: 13, endSamples: 13 });
  });

  it.skipIf(!databaseAvailable)(`mixed-90-10-steady reports reads and writes apart with the p99 and error goals${databaseAvailable ? "" : ` (${databaseSkipReason})`}`, async () => {
    const result = await runScenario(mixedSteady, options);
    expectWellFormed(result, "req");
    expect(result.measurements.map((m) => m.label)).toEqual(["reads @50/s", "writes @50/s", "http-floor 1024 B reads @50/s"]);
    // The baseline: the same open loop against the bare HTTP floor, every read answered.
    const floor = result.measurements[2]!;
    expect(floor.role).toBe("baseline");
    expect(floor.errors).toBe(0);
    expect(floor.operations).toBeGreaterThan(0);
    expect(result.latencyGoals?.[0]).toMatchObject({ measurement: "reads @50/s", percentile: "p99", goalMs: 20 });
    expect(result.limitGoals?.[0]).toMatchObject({ value: 0, max: 0, met: true });
    expect(renderResults([result])).toContain("errors (reads + writes) = 0");
  }, 120_000);

  it.skipIf(!databaseAvailable)(`emmett-rebuild rebuilds the orders read model through both stores, Emmett's with every order${databaseAvailable ? "" : ` (${databaseSkipReason})`}`, async () => {
    const result = await runScenario(emmettRebuild, options);
    expectWellFormed(result, "event");
    expect(result.measurements.map((m) => m.label)).toEqual(["replay orders", "emmett rebuild orders"]);
    // Both rebuilt the same history, and Emmett's made a document for every order placed (errors: 0 above).
    expect(result.measurements[1]!.operations).toBe(result.measurements[0]!.operations);
    expect(result.params["emmettDocuments"]).toBeGreaterThan(0);
    expect(result.comparisons.map((c) => c.baseline)).toEqual(["emmett rebuild orders"]);
  }, 120_000);

  it.skipIf(!databaseAvailable)(`soak samples the service's RSS and checks growth and errors${databaseAvailable ? "" : ` (${databaseSkipReason})`}`, async () => {
    const result = await runScenario(soak, options);
    expectWellFormed(result, "req");
    const samples = result.params["rssSamples"] as RssSample[];
    expect(samples.length).toBeGreaterThan(3);
    for (const [t, mib] of samples) expect(t >= 0 && mib > 0).toBe(true);
    expect(result.limitGoals?.map((g) => g.check)).toEqual(["errors (reads + writes)", "RSS growth after warm-up"]);
    expect(result.limitGoals?.[1]?.value).not.toBeNull();
  }, 120_000);

  it.skipIf(!databaseAvailable)(`the SQL floor runs the list routes' SQL on the read tables of the serving versions${databaseAvailable ? "" : ` (${databaseSkipReason})`}`, async () => {
    const db = await createBenchDatabase(options.databaseUrl, "sql_floor_test");
    try {
      const pool = db.pool(2);
      await migrate(pool);
      for (const definition of projections) await ensureProjectionSchema(pool, definition);
      const tables = await activeReadTables(pool);
      expect(Object.keys(tables).sort()).toEqual(expect.arrayContaining(["daily_sales", "orders", "products"]));
      const size = seedSizeForEvents(2000);
      for (const kind of ["product-list", "customer-orders", "best-sellers", "daily-sales"] as const) {
        const m = await measureSqlFloor({ label: `sql-floor ${kind}`, databaseUrl: db.url, tables, connections: 2, durationS: 0.2, next: requestGenerators(size, null)[kind] });
        expect(m.errors, m.notes).toBe(0);
        expect(m.operations).toBeGreaterThan(0);
      }
    } finally {
      await db.drop();
    }
  });
});
