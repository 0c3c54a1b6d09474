/**
 * replay: `npm run cli -- replay <projection>` over a seeded, caught-up history while the
 * service keeps serving: first all three in one CLI run (`replay <a> <b> <c>`: one pass over
 * the log, one worker pool), then each projection in turn (events/s from the CLI's own
 * "replayed <name> into vN: <events> events … in <s> s" line; peak RSS of the CLI), and the
 * sum over the three; next to COPY of the rebuilt read-model rows into empty tables. Every
 * run starts on a settled read side (the pages of the catch-up or of the run before written
 * out): a run is not charged for the write-back of the one before it.
 * Live reads: GET /v1/products/{id} from 4 lanes (one request at a time each, 5 ms apart),
 * for 10 s while nothing else runs, then throughout the replays; goal: p99 during the
 * replays ≤ 2× the idle p99.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SERVICE_NODE_ARGS } from "../lib/child.ts";
import { copyFloorMeasurement, copyReadModels } from "../lib/read_model_copy.ts";
import { LatencyRecorder } from "../lib/latency.ts";
import { compare, latencyGoal } from "../lib/report.ts";
import { requestGenerators } from "../lib/requests.ts";
import { peakRss } from "../lib/rss.ts";
import { settleReadSide, startTarget, waitForProjections, type Target } from "../lib/target.ts";
import type { Comparison, LatencyGoal, Measurement, Scenario } from "../lib/types.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface ReplayRun {
  wallSeconds: number;
  peakRssBytes: number | null;
  code: number | null;
  output: string;
  /** From the CLI's "replayed …" line of the first projection; null when it did not print one. */
  replayed: { version: number; events: number; seconds: number } | null;
}

/** Parses the CLI's "replayed <name> into vN: <events> events … in <s> s" line. */
export function parseReplayed(output: string, name: string): ReplayRun["replayed"] {
  const match = new RegExp(`replayed ${name} into v(\\d+): (\\d+) events.*? in ([\\d.]+) s`).exec(output);
  return match ? { version: Number(match[1]), events: Number(match[2]), seconds: Number(match[3]) } : null;
}

/** Runs the CLI's replay of one projection (or several in one run); resolves with timings, peak RSS and exit code (bounded by timeoutS). */
export async function runReplay(target: Target, projections: string | readonly string[], timeoutS: number): Promise<ReplayRun> {
  const names = typeof projections === "string" ? [projections] : [...projections];
  const begin = performance.now();
  const child = spawn(process.execPath, [...SERVICE_NODE_ARGS, "--import", "tsx", "src/cli.ts", "replay", ...names], { cwd: ROOT, env: { ...process.env, DATABASE_URL: target.databaseUrl!, REDIS_KEY_PREFIX: target.redisKeyPrefix, LOG_LEVEL: "warn" }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => { output = (output + chunk.toString()).slice(-4000); });
  child.stderr.on("data", (chunk: Buffer) => { output = (output + chunk.toString()).slice(-4000); });
  let peak: number | null = null;
  const sampler = setInterval(() => { peak = Math.max(peak ?? 0, peakRss(child.pid!) ?? 0) || peak; }, 100);
  const killer = setTimeout(() => child.kill("SIGKILL"), timeoutS * 1000);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearInterval(sampler);
  clearTimeout(killer);
  return { wallSeconds: (performance.now() - begin) / 1000, peakRssBytes: peak, code, output, replayed: parseReplayed(output, names[0]!) };
}

const READ_LANES = 4;
const READ_GAP_MS = 5;

/** Reads product views from READ_LANES lanes until `until` settles (or for `seconds`); returns the measurement. */
async function liveReads(target: Target, label: string, until: Promise<unknown> | number): Promise<Measurement> {
  const next = requestGenerators(target.size, target.token)["product-by-id"];
  const recorder = new LatencyRecorder();
  let errors = 0;
  let stop = false;
  if (typeof until === "number") setTimeout(() => (stop = true), until * 1000);
  else void until.finally(() => (stop = true));
  const begin = performance.now();
  await Promise.all(
    Array.from({ length: READ_LANES }, async () => {
      while (!stop) {
        const request = next();
        const t0 = performance.now();
        try {
          const response = await fetch(`${target.url}${request.path}`, { headers: request.headers ?? {}, signal: AbortSignal.timeout(10_000) });
          await response.arrayBuffer();
          if (response.status === 200) recorder.record(performance.now() - t0);
          else errors++;
        } catch {
          errors++;
        }
        await new Promise((resolve) => setTimeout(resolve, READ_GAP_MS));
      }
    }),
  );
  const seconds = (performance.now() - begin) / 1000;
  return {
    label, role: "subject", connections: READ_LANES, durationS: Math.round(seconds * 100) / 100, operations: recorder.count,
    throughput: Math.round(recorder.count / seconds), unit: "req", latencyMs: recorder.summary(), errors, peakRssBytes: target.peakRss(), rssOf: "service child",
  };
}

export const replay: Scenario = {
  name: "replay",
  description: "rebuild of each projection into its next version with the CLI while the service keeps serving (events/s; all = the three in sequence, and the three in one CLI run), vs. COPY of the rebuilt read-model rows into empty tables",
  async run(options) {
    if (options.url) throw new Error("replay starts its own service (it cannot use --url)");
    if (!existsSync(`${ROOT}src/cli.ts`)) throw new Error("src/cli.ts does not exist yet (replay runs `src/cli.ts replay <projection>`)");
    const target = await startTarget(options);
    const measurements: Measurement[] = [];
    const comparisons: Comparison[] = [];
    const latencyGoals: LatencyGoal[] = [];
    const replayed = new Map<string, { events: number; seconds: number }>();
    let onePass: Measurement | null = null;
    let copies;
    try {
      const caughtUp = await waitForProjections(target, options.smoke ? 120 : 3600);
      await settleReadSide(target, options.log);
      const names = options.projection ? [options.projection] : caughtUp.items.map((item) => item.name);
      measurements.push(await liveReads(target, "live reads, idle", options.smoke ? 1 : 10));
      let replaysDone!: () => void;
      const replaysOver = new Promise<void>((resolve) => (replaysDone = resolve));
      const during = liveReads(target, "live reads during the replays", replaysOver);
      if (names.length > 1) {
        // All of them in one CLI run first (the replays share one read of the log and one
        // worker pool): the rebuild an operator runs after a change to all read models, on
        // the service as the catch-up left it.
        const run = await runReplay(target, names, options.smoke ? 120 : 3600);
        const each = names.map((name) => parseReplayed(run.output, name));
        const ok = run.code === 0 && each.every((parsed) => parsed !== null);
        const events = ok ? each.reduce((sum, parsed) => sum + parsed!.events, 0) : 0;
        // They start together; the pass is over when the last one switched.
        const seconds = ok ? Math.max(...each.map((parsed) => parsed!.seconds)) : run.wallSeconds;
        onePass = {
          label: "replay all (one pass)", role: "subject", connections: null, durationS: Math.round(seconds * 1000) / 1000, operations: events,
          throughput: ok ? Math.round(events / Math.max(seconds, 0.001)) : 0, unit: "event", latencyMs: null, errors: ok ? 0 : 1,
          peakRssBytes: run.peakRssBytes, rssOf: "cli child (includes process start)",
          notes: ok
            ? `\`replay ${names.join(" ")}\` in one CLI process: ${each.map((parsed, i) => `${names[i]} into v${parsed!.version} in ${parsed!.seconds} s`).join(", ")}; time = the last to finish; events counted per projection; wall incl. process start ${run.wallSeconds.toFixed(2)} s`
            : `exit ${run.code}: ${run.output.slice(-500)}`,
        };
      }
      for (const name of names) {
        // Each run starts with the last one's pages written out (as the first starts after the
        // catch-up's): a run is not charged for the write-back of the run before it.
        if (onePass !== null || name !== names[0]) await settleReadSide(target, options.log, "the last replay");
        const run = await runReplay(target, name, options.smoke ? 120 : 3600);
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
      replaysDone();
      const reads = await during;
      measurements.push(reads);
      const idle = measurements.find((m) => m.label === "live reads, idle")?.latencyMs?.p99 ?? null;
      if (idle !== null) latencyGoals.push(latencyGoal(measurements, reads.label, "p99", Math.round(2 * idle * 100) / 100));
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
      if (onePass) {
        measurements.push(onePass);
        for (const baseline of ["copy-floor all read models", "replay all (sum)"]) {
          const one = compare(measurements, onePass.label, baseline);
          if (one) comparisons.push(one);
        }
      }
    }
    return { params: { events: target.seededEvents, size: target.size, readModels: copies.map(({ projection, version, rows, bytes }) => ({ projection, version, rows, bytes })), liveReads: { lanes: READ_LANES, gapMs: READ_GAP_MS, goal: "p99 during the replays ≤ 2× idle p99" } }, measurements, comparisons, latencyGoals };
  },
};
