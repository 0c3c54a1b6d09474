/**
 * replay: `npm run cli -- replay <projection>` for each projection in turn over a seeded,
 * caught-up history while the service keeps serving (events/s from the CLI's own
 * "replayed <name> into vN: <events> events … in <s> s" line; peak RSS of the CLI), and
 * the sum over all three; next to COPY of the rebuilt read-model rows into empty tables.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { copyFloorMeasurement, copyReadModels } from "../lib/read_model_copy.ts";
import { compare } from "../lib/report.ts";
import { peakRss } from "../lib/rss.ts";
import { startTarget, waitForProjections } from "../lib/target.ts";
import type { Comparison, Measurement, Scenario } from "../lib/types.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface ReplayRun {
  wallSeconds: number;
  peakRssBytes: number | null;
  code: number | null;
  output: string;
  /** From the CLI's "replayed …" line; null when it did not print one. */
  replayed: { version: number; events: number; seconds: number } | null;
}

/** Parses the CLI's "replayed <name> into vN: <events> events … in <s> s" line. */
export function parseReplayed(output: string, name: string): ReplayRun["replayed"] {
  const match = new RegExp(`replayed ${name} into v(\\d+): (\\d+) events.*? in ([\\d.]+) s`).exec(output);
  return match ? { version: Number(match[1]), events: Number(match[2]), seconds: Number(match[3]) } : null;
}

/** Runs the CLI's replay for one projection; resolves with timings, peak RSS and exit code (bounded by timeoutS). */
async function runReplay(databaseUrl: string, projection: string, timeoutS: number): Promise<ReplayRun> {
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
  return { wallSeconds: (performance.now() - begin) / 1000, peakRssBytes: peak, code, output, replayed: parseReplayed(output, projection) };
}

export const replay: Scenario = {
  name: "replay",
  description: "rebuild of each projection into its next version with the CLI while the service keeps serving (events/s; all = the three in sequence), vs. COPY of the rebuilt read-model rows into empty tables",
  async run(options) {
    if (options.url) throw new Error("replay starts its own service (it cannot use --url)");
    if (!existsSync(`${ROOT}src/cli.ts`)) throw new Error("src/cli.ts does not exist yet (replay runs `src/cli.ts replay <projection>`)");
    const target = await startTarget(options);
    const measurements: Measurement[] = [];
    const comparisons: Comparison[] = [];
    const replayed = new Map<string, { events: number; seconds: number }>();
    let copies;
    try {
      const caughtUp = await waitForProjections(target, options.smoke ? 120 : 3600);
      const names = options.projection ? [options.projection] : caughtUp.items.map((item) => item.name);
      for (const name of names) {
        const run = await runReplay(target.databaseUrl!, name, options.smoke ? 120 : 3600);
        const ok = run.code === 0 && run.replayed !== null;
        const events = run.replayed?.events ?? target.seededEvents;
        const seconds = run.replayed?.seconds ?? run.wallSeconds;
        if (ok) replayed.set(name, { events, seconds });
        measurements.push({
          label: `replay ${name}`, role: "subject", connections: null, durationS: Math.round(seconds * 1000) / 1000, operations: events,
          throughput: ok ? Math.round(events / Math.max(seconds, 0.001)) : 0, unit: "event", latencyMs: null, errors: ok ? 0 : 1,
          peakRssBytes: run.peakRssBytes, rssOf: "cli child (includes process start)",
          notes: ok ? `into v${run.replayed!.version}; CLI-reported ${seconds} s (its line rounds to 0.1 s); wall incl. process start ${run.wallSeconds.toFixed(2)} s` : `exit ${run.code}: ${run.output.slice(-500)}`,
        });
      }
      copies = await copyReadModels(options.databaseUrl, target.databaseUrl!, [...replayed.keys()]);
    } finally {
      await target.stop();
    }
    for (const copy of copies) {
      const floor = copyFloorMeasurement(`copy-floor ${copy.projection} v${copy.version}`, [copy], replayed.get(copy.projection)!.events);
      measurements.push(floor);
      const c = compare(measurements, `replay ${copy.projection}`, floor.label);
      if (c) comparisons.push(c);
    }
    if (replayed.size > 1) {
      const events = [...replayed.values()].reduce((sum, r) => sum + r.events, 0);
      const seconds = [...replayed.values()].reduce((sum, r) => sum + r.seconds, 0);
      measurements.push({
        label: "replay all (sum)", role: "subject", connections: null, durationS: Math.round(seconds * 1000) / 1000, operations: events,
        throughput: Math.round(events / Math.max(seconds, 0.001)), unit: "event", latencyMs: null, errors: 0, peakRssBytes: Math.max(...measurements.filter((m) => m.role === "subject").map((m) => m.peakRssBytes ?? 0)) || null,
        rssOf: "max over the cli children", notes: `sum of the sequential replays of ${[...replayed.keys()].join(", ")} (events counted per projection)`,
      });
      measurements.push(copyFloorMeasurement("copy-floor all read models", copies, events));
      const c = compare(measurements, "replay all (sum)", "copy-floor all read models");
      if (c) comparisons.push(c);
    }
    return { params: { events: target.seededEvents, size: target.size, readModels: copies.map(({ projection, version, rows, bytes }) => ({ projection, version, rows, bytes })) }, measurements, comparisons };
  },
};
