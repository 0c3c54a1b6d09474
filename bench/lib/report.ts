/** Prints a scenario's measurements as a table and writes them as JSON under bench/results/. */
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { postgresVersion } from "./database.ts";
import type { Comparison, LatencyGoal, LimitGoal, MachineInfo, Measurement, ScenarioResult } from "./types.ts";

export const RESULTS_DIR = fileURLToPath(new URL("../results/", import.meta.url));

/** Describes this machine (cores, memory, CPU, Node and PostgreSQL versions). */
export async function machineInfo(databaseUrl: string): Promise<MachineInfo> {
  return {
    nproc: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    node: process.version,
    postgres: await postgresVersion(databaseUrl),
    platform: `${os.platform()} ${os.release()}`,
  };
}

/** Formats bytes as MiB with one decimal, or "-". */
export function mib(bytes: number | null): string {
  return bytes === null ? "-" : `${(bytes / 1048576).toFixed(1)} MiB`;
}

function fixed(value: number | undefined, digits = 2): string {
  return value === undefined ? "-" : value.toFixed(digits);
}

/** Table rows (header first) for a list of measurements. */
export function measurementRows(measurements: Measurement[]): string[][] {
  const header = ["measurement", "role", "conn", "ops", "throughput", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "peak RSS"];
  return [
    header,
    ...measurements.map((m) => [
      m.label, m.role, m.connections === null ? "-" : String(m.connections), String(m.operations), `${Math.round(m.throughput)} ${m.unit}/s`,
      fixed(m.latencyMs?.p50), fixed(m.latencyMs?.p95), fixed(m.latencyMs?.p99), fixed(m.latencyMs?.max), String(m.errors), mib(m.peakRssBytes),
    ]),
  ];
}

/** One line per comparison: subject ÷ baseline, with the goal when there is one. */
export function comparisonLines(comparisons: Comparison[]): string[] {
  return comparisons.map((c) => `${c.subject} / ${c.baseline} = ${c.ratio.toFixed(3)}${c.goal === undefined ? "" : ` (goal ≥ ${c.goal}: ${c.met ? "met" : "NOT met"})`}`);
}

/** One line per latency goal: the percentile's value against the goal. */
export function latencyGoalLines(goals: readonly LatencyGoal[] = []): string[] {
  return goals.map((g) => `${g.measurement} ${g.percentile} = ${g.valueMs === null ? "-" : `${g.valueMs.toFixed(2)} ms`} (goal ≤ ${g.goalMs} ms: ${g.met ? "met" : "NOT met"})`);
}

/** "≤ 10 %", or "0" for a zero limit (errors). */
export function limitText(goal: Pick<LimitGoal, "max" | "unit">): string {
  return goal.max === 0 ? "0" : `≤ ${goal.max}${goal.unit}`;
}

/** One line per limit goal: the value against its limit, with what it was computed from. */
export function limitGoalLines(goals: readonly LimitGoal[] = []): string[] {
  return goals.map((g) => `${g.check} = ${g.value === null ? "-" : `${g.value}${g.unit}`}${g.detail === undefined ? "" : ` (${g.detail})`} (goal ${limitText(g)}: ${g.met ? "met" : "NOT met"})`);
}

/** Checks value ≤ max (not met when the value is unknown). */
export function limitGoal(check: string, value: number | null, max: number, unit = "", detail?: string): LimitGoal {
  return { check, value, max, unit, met: value !== null && value <= max, ...(detail === undefined ? {} : { detail }) };
}

/** Checks a latency goal on a measurement by label (not met when it is missing or has no latencies). */
export function latencyGoal(measurements: readonly Measurement[], label: string, percentile: LatencyGoal["percentile"], goalMs: number): LatencyGoal {
  const valueMs = measurements.find((m) => m.label === label)?.latencyMs?.[percentile] ?? null;
  return { measurement: label, percentile, goalMs, valueMs, met: valueMs !== null && valueMs <= goalMs };
}

function textTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ")).join("\n");
}

/** Prints the result as a text table with its comparisons. */
export function printResult(result: ScenarioResult, write: (text: string) => void = (text) => process.stdout.write(text)): void {
  write(`\n== ${result.scenario}${result.smoke ? " (SMOKE RUN — not a result)" : ""}: ${result.description}\n`);
  if (result.skipped) {
    write(`   skipped: ${result.skipped}\n`);
    return;
  }
  write(`${textTable(measurementRows(result.measurements))}\n`);
  for (const line of [...comparisonLines(result.comparisons), ...latencyGoalLines(result.latencyGoals), ...limitGoalLines(result.limitGoals)]) write(`   ${line}\n`);
}

/** Writes bench/results/<scenario>.json; returns the path. */
export async function writeResult(result: ScenarioResult, dir = RESULTS_DIR): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = `${dir}${result.scenario}.json`;
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

/** Builds a comparison of two measurements by label (throughput ratio). */
export function compare(measurements: Measurement[], subject: string, baseline: string, goal?: number): Comparison | null {
  const s = measurements.find((m) => m.label === subject);
  const b = measurements.find((m) => m.label === baseline);
  if (!s || !b || b.throughput === 0) return null;
  const ratio = Math.round((s.throughput / b.throughput) * 1000) / 1000;
  return { subject, baseline, ratio, ...(goal === undefined ? {} : { goal, met: ratio >= goal }) };
}
