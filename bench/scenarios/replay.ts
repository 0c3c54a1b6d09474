/** replay: `npm run cli -- replay <projection>` over a seeded, caught-up history (events/s, peak RSS of the CLI); next to COPY of N rows. */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { compare } from "../lib/report.ts";
import { peakRss } from "../lib/rss.ts";
import { startTarget, waitForProjections } from "../lib/target.ts";
import type { Measurement, Scenario } from "../lib/types.ts";
import { measureCopyFloor } from "./copy_floor.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Runs the CLI's replay for one projection; resolves with seconds, peak RSS and exit code (bounded by timeoutS). */
async function runReplay(databaseUrl: string, projection: string, timeoutS: number): Promise<{ seconds: number; peakRssBytes: number | null; code: number | null; output: string }> {
  const begin = performance.now();
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "replay", projection], { cwd: ROOT, env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: "warn" }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => { output = (output + chunk.toString()).slice(-4000); });
  child.stderr.on("data", (chunk: Buffer) => { output = (output + chunk.toString()).slice(-4000); });
  let peak: number | null = null;
  const sampler = setInterval(() => { peak = Math.max(peak ?? 0, peakRss(child.pid!) ?? 0) || peak; }, 100);
  const killer = setTimeout(() => child.kill("SIGKILL"), timeoutS * 1000);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearInterval(sampler);
  clearTimeout(killer);
  return { seconds: (performance.now() - begin) / 1000, peakRssBytes: peak, code, output };
}

export const replay: Scenario = {
  name: "replay",
  description: "rebuild of a projection into its next version with the CLI while the service keeps serving (events/s), vs. the COPY floor",
  async run(options) {
    if (options.url) throw new Error("replay starts its own service (it cannot use --url)");
    if (!existsSync(`${ROOT}src/cli.ts`)) throw new Error("src/cli.ts does not exist yet (replay runs `src/cli.ts replay <projection>`)");
    const target = await startTarget(options);
    const measurements: Measurement[] = [];
    try {
      const caughtUp = await waitForProjections(target, options.smoke ? 120 : 3600);
      const names = options.projection ? [options.projection] : caughtUp.items.map((item) => item.name);
      for (const name of names) {
        const run = await runReplay(target.databaseUrl!, name, options.smoke ? 120 : 3600);
        measurements.push({
          label: `replay ${name}`, role: "subject", connections: null, durationS: Math.round(run.seconds * 1000) / 1000, operations: target.seededEvents,
          throughput: run.code === 0 ? Math.round(target.seededEvents / run.seconds) : 0, unit: "event", latencyMs: null, errors: run.code === 0 ? 0 : 1,
          peakRssBytes: run.peakRssBytes, rssOf: "cli child (includes process start)", ...(run.code === 0 ? {} : { notes: `exit ${run.code}: ${run.output.slice(-500)}` }),
        });
      }
    } finally {
      await target.stop();
    }
    const floor = await measureCopyFloor(options, target.seededEvents);
    measurements.push(floor);
    const comparisons = measurements.filter((m) => m.role === "subject" && m.errors === 0).flatMap((m) => compare(measurements, m.label, floor.label) ?? []);
    return { params: { events: target.seededEvents, size: target.size }, measurements, comparisons };
  },
};
