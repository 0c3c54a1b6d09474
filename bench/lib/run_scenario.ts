/** Runs one scenario into a ScenarioResult (a failure becomes a result with `skipped` set, so the suite goes on). */
import { machineInfo } from "./report.ts";
import type { BenchOptions, Scenario, ScenarioResult } from "./types.ts";

/** Runs a scenario and stamps it with machine info and the smoke flag; never throws for a scenario failure. */
export async function runScenario(scenario: Scenario, options: BenchOptions): Promise<ScenarioResult> {
  const startedAt = new Date().toISOString();
  const machine = await machineInfo(options.databaseUrl);
  const base = { scenario: scenario.name, description: scenario.description, startedAt, smoke: options.smoke, machine };
  try {
    return { ...base, ...(await scenario.run(options)) };
  } catch (error) {
    options.log(`${scenario.name} failed: ${(error as Error).stack ?? String(error)}`);
    return { ...base, params: {}, measurements: [], comparisons: [], skipped: (error as Error).message };
  }
}
