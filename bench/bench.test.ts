import { describe, expect, it } from "vitest";
import { databaseAvailable, databaseSkipReason } from "../src/testing/db.ts";
import { parseBenchArgs } from "./lib/args.ts";
import { renderResults } from "./lib/results_md.ts";
import { runScenario } from "./lib/run_scenario.ts";
import type { ScenarioResult } from "./lib/types.ts";
import { copyFloor } from "./scenarios/copy_floor.ts";
import { httpFloor } from "./scenarios/http_floor.ts";
import { SCENARIOS } from "./scenarios/index.ts";
import { pgInsertFloor } from "./scenarios/pg_insert_floor.ts";

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
  it("names every scenario once and parses the command line", () => {
    const names = SCENARIOS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of ["http-floor", "pg-insert-floor", "copy-floor", "emmett-append", "place-order", "freshness", "replay"]) expect(names).toContain(name);
    const parsed = parseBenchArgs(["place-order", "--duration", "10", "--connections", "32,128"]);
    expect(parsed.scenarios).toEqual(["place-order"]);
    expect(parsed.options.connections).toEqual([32, 128]);
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
});
