/**
 * soak: the mixed-90-10-steady load (open loop, default 1,000 req/s, 90% reads over every
 * query route / 10% POST /v1/orders) for 10 minutes (--soak-minutes), while the service
 * child's RSS (VmRSS) is sampled every 5 s. Warm-up is the first 2 minutes (20% of shorter
 * runs); RSS after warm-up is the median of the samples in the minute after it (10% of
 * shorter runs), RSS at the end the median of the last minute's samples. Goals: zero
 * errors and RSS growth (end / after warm-up − 1) ≤ 10%. Latencies and errors cover the whole
 * run after an unrecorded start of up to 30 s at the same rate (the service is fresh from
 * seeding and its bulk build), which reads every seeded product and order by id once first:
 * the service's in-process view cache (VIEW_CACHE_MB, bounded) then starts the soak as full
 * as a long-running service's. Without that it kept filling through the soak (38,373 orders
 * read uniformly at about 150/s: an estimated 45 min, n·ln n / rate, before all are seen),
 * which measured as +10.9% RSS (−0.9% with the cache off, the same hour). The cache's bytes are sampled beside RSS.
 */
import { mixedRequests, runMixedOpenLoop } from "../lib/mixed_open_loop.ts";
import { limitGoal } from "../lib/report.ts";
import { runBounded } from "../../src/seed/bounded.ts";
import { byIdPaths } from "../lib/requests.ts";
import { sharedTarget, type Target } from "../lib/target.ts";
import type { Scenario } from "../lib/types.ts";
import { mixedRate, STEADY_READ_SHARE } from "./mixed_steady.ts";

export const SOAK_MINUTES = 10;
/** Seconds of a smoke soak when --soak-minutes is not given. */
export const SMOKE_SOAK_S = 3;
/** Seconds of load before the soak is recorded (at most 5% of it). */
const START_S = 30;
/** Goal: RSS growth after warm-up, percent. */
export const SOAK_RSS_GROWTH_GOAL_PCT = 10;
const WARM_UP_S = 120;
const WINDOW_S = 60;
const SAMPLE_EVERY_S = 5;

export interface SoakPlan {
  totalS: number;
  /** Warm-up: the first min(120 s, 20%) of the run. */
  warmUpS: number;
  /** Median windows: min(60 s, 10%) after warm-up and at the end. */
  windowS: number;
  /** Every min(5 s, window / 6), at least 0.25 s, so each window holds several samples. */
  sampleEveryS: number;
}

export function soakPlan(totalS: number): SoakPlan {
  const windowS = Math.min(WINDOW_S, totalS * 0.1);
  return { totalS, warmUpS: Math.min(WARM_UP_S, totalS * 0.2), windowS, sampleEveryS: Math.max(0.25, Math.min(SAMPLE_EVERY_S, windowS / 6)) };
}

/** One RSS sample: seconds since the load started, MiB (one decimal). */
export type RssSample = [seconds: number, mib: number];

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const value = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return Math.round(value * 10) / 10;
}

/** RSS after warm-up, at the end, growth and max from the samples of a plan (the sample taken after the stragglers, past totalS, is in the curve and the max only). */
export function rssGrowth(samples: readonly RssSample[], plan: SoakPlan): { afterWarmUpMiB: number | null; endMiB: number | null; growthPct: number | null; maxMiB: number | null; afterWarmUpSamples: number; endSamples: number } {
  const after = samples.filter(([t]) => t >= plan.warmUpS && t <= plan.warmUpS + plan.windowS).map(([, m]) => m);
  const end = samples.filter(([t]) => t >= plan.totalS - plan.windowS && t <= plan.totalS).map(([, m]) => m);
  const afterWarmUpMiB = median(after);
  const endMiB = median(end);
  const growthPct = afterWarmUpMiB === null || endMiB === null ? null : Math.round((endMiB / afterWarmUpMiB - 1) * 10_000) / 100;
  const maxMiB = samples.length === 0 ? null : Math.max(...samples.map(([, m]) => m));
  return { afterWarmUpMiB, endMiB, growthPct, maxMiB, afterWarmUpSamples: after.length, endSamples: end.length };
}

const toMiB = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10;

/** Reads each seeded product and order by id once (at most `limit`), 16 at a time. */
async function readEveryView(target: Target, limit: number): Promise<{ reads: number; failed: number; seconds: number }> {
  const paths = byIdPaths(target.size).slice(0, limit);
  const begin = performance.now();
  let failed = 0;
  await runBounded(paths, 16, async (path) => {
    try {
      const response = await fetch(`${target.url}${path}`, { signal: AbortSignal.timeout(10_000) });
      await response.arrayBuffer();
      if (response.status !== 200) failed++;
    } catch {
      failed++;
    }
  });
  return { reads: paths.length, failed, seconds: (performance.now() - begin) / 1000 };
}

export const soak: Scenario = {
  name: "soak",
  description: `the mixed-90-10-steady open loop (${STEADY_READ_SHARE * 100}% reads / ${Math.round((1 - STEADY_READ_SHARE) * 100)}% POST /v1/orders, default 1000 req/s, --rate) for ${SOAK_MINUTES} min (--soak-minutes), service RSS sampled every ${SAMPLE_EVERY_S} s (goal: zero errors, RSS growth after the ${WARM_UP_S / 60}-min warm-up ≤ ${SOAK_RSS_GROWTH_GOAL_PCT}%)`,
  async run(options) {
    const target = await sharedTarget(options);
    const rate = mixedRate(options);
    const plan = soakPlan(options.soakMinutes !== null ? options.soakMinutes * 60 : options.smoke ? SMOKE_SOAK_S : SOAK_MINUTES * 60);
    const requests = mixedRequests(target, STEADY_READ_SHARE, "soak");
    // The service comes fresh from seeding and its bulk build (views restored, JIT cold,
    // pools and client sockets not open yet): a short unrecorded start at the same rate, as
    // mixed-90-10-steady does, so the soak measures the steady state it is about.
    const warmed = await readEveryView(target, options.smoke ? 200 : Number.POSITIVE_INFINITY);
    options.log(`soak: read ${warmed.reads} views by id once (${warmed.failed} not 200) in ${warmed.seconds.toFixed(1)} s`);
    const startS = Math.max(0.5, Math.min(START_S, plan.totalS / 20));
    const start = await runMixedOpenLoop({ target, requests, ratePerS: rate, durationS: startS });
    if (start.errors > 0) options.log(`soak: ${start.errors} errors during the unrecorded start`);
    const samples: RssSample[] = [];
    const begin = performance.now();
    // The main thread's V8 heap in use (from /metrics), beside VmRSS: a leak in JS objects
    // grows it; RSS alone also moves with heap sizing and the worker threads.
    const heapSamples: RssSample[] = [];
    const viewCacheSamples: RssSample[] = [];
    const sample = (): void => {
      const at = Math.round((performance.now() - begin) / 100) / 10;
      const bytes = target.rss();
      if (bytes !== null) samples.push([at, toMiB(bytes)]);
      void fetch(`${target.url}/metrics`, { signal: AbortSignal.timeout(2000) })
        .then((response) => response.text())
        .then((text) => {
          const lines = text.split("\n");
          const line = lines.find((candidate) => candidate.startsWith("nodejs_heap_size_used_bytes "));
          if (line) heapSamples.push([at, toMiB(Number(line.split(" ")[1]))]);
          const cache = lines.find((candidate) => candidate.startsWith("view_cache_bytes "));
          if (cache) viewCacheSamples.push([at, toMiB(Number(cache.split(" ")[1]))]);
        })
        .catch(() => undefined);
    };
    options.log(`soak: ${plan.totalS} s at ${rate}/s, RSS every ${plan.sampleEveryS} s, warm-up ${plan.warmUpS} s`);
    sample();
    let lastLog = 0;
    const timer = setInterval(() => {
      sample();
      const elapsed = (performance.now() - begin) / 1000;
      if (elapsed - lastLog >= 60 && samples.length > 0) {
        lastLog = elapsed;
        options.log(`soak: ${Math.round(elapsed)} s, RSS ${samples.at(-1)![1]} MiB`);
      }
    }, plan.sampleEveryS * 1000);
    let result;
    try {
      result = await runMixedOpenLoop({ target, requests, ratePerS: rate, durationS: plan.totalS, context: `after an unrecorded ${startS} s start at the same rate; latencies and errors cover the whole soak after it` });
    } finally {
      clearInterval(timer);
    }
    sample();
    const { reads, writes, errors } = result;
    const rss = rssGrowth(samples, plan);
    const cache = rssGrowth(viewCacheSamples, plan);
    const window = (from: number, to: number) => `t ${Math.round(from)}–${Math.round(to)} s`;
    const growthDetail = rss.afterWarmUpMiB === null || rss.endMiB === null
      ? "no RSS samples (external --url?)"
      : `after warm-up ${rss.afterWarmUpMiB} MiB (median of ${rss.afterWarmUpSamples}, ${window(plan.warmUpS, plan.warmUpS + plan.windowS)}) → end ${rss.endMiB} MiB (median of ${rss.endSamples}, ${window(plan.totalS - plan.windowS, plan.totalS)}); max ${rss.maxMiB} MiB` +
        (cache.afterWarmUpMiB === null || cache.endMiB === null ? "" : `; of it the view cache ${cache.afterWarmUpMiB} → ${cache.endMiB} MiB`);
    return {
      params: {
        ratePerS: rate, soakS: plan.totalS, unrecordedStartS: startS, unrecordedStartErrors: start.errors, readShare: STEADY_READ_SHARE, warmUpS: plan.warmUpS, windowS: plan.windowS, sampleEveryS: plan.sampleEveryS,
        rssOf: "service child (VmRSS)", rssAfterWarmUpMiB: rss.afterWarmUpMiB, rssEndMiB: rss.endMiB, rssGrowthPct: rss.growthPct, rssMaxMiB: rss.maxMiB,
        rssSamples: samples, mainHeapUsedSamples: heapSamples, viewCacheSamples, viewsReadBeforeStart: warmed.reads, seededEvents: target.seededEvents,
      },
      measurements: [reads, writes],
      comparisons: [],
      limitGoals: [
        limitGoal("errors (reads + writes)", errors, 0, "", `${reads.errors} reads, ${writes.errors} writes`),
        limitGoal("RSS growth after warm-up", rss.growthPct, SOAK_RSS_GROWTH_GOAL_PCT, " %", growthDetail),
      ],
    };
  },
};
