/** Fills bench/RESULTS.md from bench/results/*.json: machine description, then a table per scenario. */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { comparisonLines, measurementRows, RESULTS_DIR } from "./report.ts";
import type { ScenarioResult } from "./types.ts";

const RESULTS_MD = fileURLToPath(new URL("../RESULTS.md", import.meta.url));
const BEGIN = "<!-- results:begin -->";
const END = "<!-- results:end -->";

function markdownTable(rows: string[][]): string {
  const [header, ...body] = rows;
  return [`| ${header!.join(" | ")} |`, `|${header!.map(() => "---").join("|")}|`, ...body.map((row) => `| ${row.join(" | ")} |`)].join("\n");
}

/** Markdown for a set of results (machine first, then one section per scenario). */
export function renderResults(results: ScenarioResult[]): string {
  if (results.length === 0) return "_No results yet: run `npm run bench` first._";
  const machine = results[0]!.machine;
  const parts = [
    "### Machine",
    "",
    `- cores (nproc): ${machine.nproc}; memory: ${(machine.memoryBytes / 1073741824).toFixed(1)} GiB; CPU: ${machine.cpuModel}`,
    `- Node ${machine.node}; PostgreSQL ${machine.postgres ?? "unknown"}; ${machine.platform}`,
  ];
  for (const result of results) {
    parts.push("", `### ${result.scenario}${result.smoke ? " — SMOKE RUN (tiny data, ~1 s: not a result)" : ""}`, "", `${result.description}. Run ${result.startedAt}; params \`${JSON.stringify(result.params)}\`.`, "");
    if (result.skipped) {
      parts.push(`Not measured: ${result.skipped}`);
      continue;
    }
    parts.push(markdownTable(measurementRows(result.measurements)));
    const lines = comparisonLines(result.comparisons);
    if (lines.length > 0) parts.push("", ...lines.map((line) => `- ${line}`));
  }
  return parts.join("\n");
}

/** Reads every results JSON and replaces the generated part of RESULTS.md; returns its path. */
export async function writeResultsMarkdown(dir = RESULTS_DIR, file = RESULTS_MD): Promise<string> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((name) => name.endsWith(".json")).sort();
  const results = await Promise.all(names.map(async (name) => JSON.parse(await readFile(`${dir}${name}`, "utf8")) as ScenarioResult));
  const template = await readFile(file, "utf8");
  const start = template.indexOf(BEGIN);
  const end = template.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${file} lacks the ${BEGIN} … ${END} markers`);
  await writeFile(file, `${template.slice(0, start + BEGIN.length)}\n${renderResults(results)}\n${template.slice(end)}`);
  return file;
}
