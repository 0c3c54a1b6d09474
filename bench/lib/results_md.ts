/** Fills bench/RESULTS.md from bench/results/*.json: machine and date, a goals summary, then a table, ratios and a reading per scenario. */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { comparisonLines, latencyGoalLines, limitGoalLines, limitText, measurementRows, RESULTS_DIR } from "./report.ts";
import type { ScenarioResult } from "./types.ts";

const RESULTS_MD = fileURLToPath(new URL("../RESULTS.md", import.meta.url));
const BEGIN = "<!-- results:begin -->";
const END = "<!-- results:end -->";

/** The placeholder a reading starts as; the lead replaces it (a replaced reading survives regeneration). */
export const READING_PLACEHOLDER = "_to be written from this run: what limits this path now (CPU of the service, PostgreSQL, the client, a lock, …)_";
const READING_PREFIX = "**Reading:** ";

function markdownTable(rows: string[][]): string {
  const [header, ...body] = rows;
  return [`| ${header!.join(" | ")} |`, `|${header!.map(() => "---").join("|")}|`, ...body.map((row) => `| ${row.join(" | ")} |`)].join("\n");
}

/** Readings already written in a previous RESULTS.md (scenario → text), placeholders excluded. */
export function existingReadings(markdown: string): Map<string, string> {
  const readings = new Map<string, string>();
  let scenario: string | null = null;
  for (const line of markdown.split("\n")) {
    const heading = /^### (\S+)/.exec(line);
    if (heading) scenario = heading[1]!;
    else if (scenario !== null && line.startsWith(READING_PREFIX)) {
      const text = line.slice(READING_PREFIX.length).trim();
      if (text !== READING_PLACEHOLDER && !text.startsWith("_to be written")) readings.set(scenario, text);
    }
  }
  return readings;
}

function goalsSummary(results: ScenarioResult[]): string[] {
  const rows: string[][] = [["scenario", "check", "value", "goal", "met"]];
  for (const result of results) {
    const scenario = result.smoke ? `${result.scenario} (smoke)` : result.scenario;
    for (const c of result.comparisons) if (c.goal !== undefined) rows.push([scenario, `${c.subject} / ${c.baseline}`, c.ratio.toFixed(3), `≥ ${c.goal}`, c.met ? "met" : "**NOT met**"]);
    for (const g of result.latencyGoals ?? []) rows.push([scenario, `${g.measurement} ${g.percentile}`, g.valueMs === null ? "-" : `${g.valueMs.toFixed(2)} ms`, `≤ ${g.goalMs} ms`, g.met ? "met" : "**NOT met**"]);
    for (const g of result.limitGoals ?? []) rows.push([scenario, g.check, g.value === null ? "-" : `${g.value}${g.unit}`, limitText(g), g.met ? "met" : "**NOT met**"]);
  }
  return rows.length === 1 ? [] : ["### Goals", "", markdownTable(rows)];
}

/** Markdown for a set of results (machine and date first, goals, then one section per scenario with a reading). */
export function renderResults(results: ScenarioResult[], readings: ReadonlyMap<string, string> = new Map()): string {
  if (results.length === 0) return "_No results yet: run `npm run bench` first._";
  const machine = results[0]!.machine;
  const dates = results.map((r) => r.startedAt).sort();
  const smoke = results.filter((r) => r.smoke).length;
  const parts = [
    "### Machine",
    "",
    `- cores (nproc): ${machine.nproc}; memory: ${(machine.memoryBytes / 1073741824).toFixed(1)} GiB; CPU: ${machine.cpuModel}`,
    `- Node ${machine.node}; PostgreSQL ${machine.postgres ?? "unknown"}; ${machine.platform}`,
    `- date: ${dates[0]!.slice(0, 10)} (runs ${dates[0]} … ${dates.at(-1)})`,
    ...(smoke > 0 ? [`- **${smoke} of ${results.length} sections are SMOKE RUNS** (tiny data, ~1 s): harness checks, not results`] : []),
  ];
  const goals = goalsSummary(results);
  if (goals.length > 0) parts.push("", ...goals);
  for (const result of results) {
    parts.push("", `### ${result.scenario}${result.smoke ? " — SMOKE RUN (tiny data, ~1 s: not a result)" : ""}`, "", `${result.description}. Run ${result.startedAt}; params \`${JSON.stringify(result.params)}\`.`, "");
    if (result.skipped) {
      parts.push(`Not measured: ${result.skipped}`);
      continue;
    }
    parts.push(markdownTable(measurementRows(result.measurements)));
    const lines = [...comparisonLines(result.comparisons), ...latencyGoalLines(result.latencyGoals), ...limitGoalLines(result.limitGoals)];
    if (lines.length > 0) parts.push("", ...lines.map((line) => `- ${line}`));
    const notes = result.measurements.filter((m) => m.notes).map((m) => `- ${m.label}: ${m.notes}`);
    if (notes.length > 0) parts.push("", "<details><summary>notes</summary>", "", ...notes, "", "</details>");
    parts.push("", `${READING_PREFIX}${result.smoke ? READING_PLACEHOLDER : (readings.get(result.scenario) ?? READING_PLACEHOLDER)}`);
  }
  return parts.join("\n");
}

/** Reads every results JSON and replaces the generated part of RESULTS.md (keeping written readings); returns its path. */
export async function writeResultsMarkdown(dir = RESULTS_DIR, file = RESULTS_MD): Promise<string> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((name) => name.endsWith(".json")).sort();
  const results = await Promise.all(names.map(async (name) => JSON.parse(await readFile(`${dir}${name}`, "utf8")) as ScenarioResult));
  const template = await readFile(file, "utf8");
  const start = template.indexOf(BEGIN);
  const end = template.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${file} lacks the ${BEGIN} … ${END} markers`);
  const readings = existingReadings(template.slice(start, end));
  await writeFile(file, `${template.slice(0, start + BEGIN.length)}\n${renderResults(results, readings)}\n${template.slice(end)}`);
  return file;
}
