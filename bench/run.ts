/**
 * The benchmark harness. `npm run bench` runs every scenario; `npm run bench -- <scenario>
 * [--duration 10] [--connections 32,128] [--events N] [--rate 1000] [--soak-minutes 10]
 * [--url http://127.0.0.1:port --token T]` runs one (--rate: open-loop mixed-90-10-steady and
 * soak; --soak-minutes: soak); `--smoke` runs 1-second passes on tiny data; `--write-results` fills
 * bench/RESULTS.md from bench/results/*.json; `--list` names the scenarios.
 */
import { parseBenchArgs } from "./lib/args.ts";
import { printResult, writeResult } from "./lib/report.ts";
import { writeResultsMarkdown } from "./lib/results_md.ts";
import { runScenario } from "./lib/run_scenario.ts";
import { SCENARIOS } from "./scenarios/index.ts";
import { stopSharedTarget } from "./lib/target.ts";

const command = parseBenchArgs(process.argv.slice(2).filter((arg) => arg !== "--"));

if (command.list) {
  for (const scenario of SCENARIOS) process.stdout.write(`${scenario.name.padEnd(24)} ${scenario.description}\n`);
} else if (command.writeResults && command.scenarios.length === 0) {
  process.stdout.write(`wrote ${await writeResultsMarkdown()}\n`);
} else {
  const chosen = command.scenarios.length === 0 ? SCENARIOS : command.scenarios.map((name) => {
    const scenario = SCENARIOS.find((candidate) => candidate.name === name);
    if (!scenario) throw new Error(`unknown scenario ${name}; try --list`);
    return scenario;
  });
  let failed = 0;
  for (const scenario of chosen) {
    const result = await runScenario(scenario, command.options);
    if (result.skipped) failed++;
    printResult(result);
    process.stdout.write(`   → ${await writeResult(result)}\n`);
  }
  await stopSharedTarget();
  if (command.writeResults) process.stdout.write(`wrote ${await writeResultsMarkdown()}\n`);
  process.exitCode = failed > 0 ? 1 : 0;
}
