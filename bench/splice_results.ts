/**
 * Splices the scenarios in bench/results/*.json into bench/RESULTS.md without dropping the
 * sections of scenarios not re-run (results JSON is not kept in git): each re-run scenario's
 * section and its rows of the goals table are replaced, new ones are added; written
 * readings are kept. `npm run bench -- --write-results` instead regenerates the whole page
 * from the JSON files present.
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { RESULTS_DIR } from "./lib/report.ts";
import { existingReadings, renderResults } from "./lib/results_md.ts";
import type { ScenarioResult } from "./lib/types.ts";

const FILE = fileURLToPath(new URL("./RESULTS.md", import.meta.url));

/** `### name` sections of a markdown block: name → text (heading included), in order. */
function sections(block: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = block.split(/\n(?=### )/);
  for (const part of parts) {
    const heading = /^### (\S+)/.exec(part);
    if (heading) out.set(heading[1]!, part.trimEnd());
  }
  return out;
}

const names = (await readdir(RESULTS_DIR)).filter((name) => name.endsWith(".json")).sort();
const results = await Promise.all(names.map(async (name) => JSON.parse(await readFile(`${RESULTS_DIR}${name}`, "utf8")) as ScenarioResult));
const page = await readFile(FILE, "utf8");
const begin = page.indexOf("<!-- results:begin -->");
const end = page.indexOf("<!-- results:end -->");
const block = page.slice(begin + "<!-- results:begin -->".length, end);
const fresh = sections(renderResults(results, existingReadings(block)));
const old = sections(block);
const rerun = new Set(results.map((result) => result.scenario));
// Goals table: drop the re-run scenarios' rows, add theirs.
const oldGoals = old.get("Goals") ?? "### Goals\n\n| scenario | check | value | goal | met |\n|---|---|---|---|---|";
const freshGoals = fresh.get("Goals")?.split("\n").filter((line) => line.startsWith("| ") && !line.startsWith("| scenario")) ?? [];
const keptGoals = oldGoals.split("\n").filter((line) => {
  const scenario = /^\| ([^|]+?)( \(smoke\))? \|/.exec(line)?.[1];
  return !(scenario && scenario !== "scenario" && rerun.has(scenario));
});
const merged = new Map(old);
merged.set("Goals", [...keptGoals, ...freshGoals].join("\n"));
for (const [name, text] of fresh) if (name !== "Machine" && name !== "Goals") merged.set(name, text);
const order = ["Machine", "Goals", ...[...merged.keys()].filter((name) => name !== "Machine" && name !== "Goals").sort()];
const body = order.filter((name) => merged.has(name)).map((name) => merged.get(name)!).join("\n\n");
await writeFile(FILE, `${page.slice(0, begin)}<!-- results:begin -->\n${body}\n${page.slice(end)}`);
process.stdout.write(`spliced ${[...rerun].join(", ")} into ${FILE}\n`);
