/**
 * mixed-90-10-steady: the read-latency goal under a realistic mix. An open-loop load at a
 * fixed rate (default 1,000 requests/s, --rate), 90% reads spread over every query route and
 * 10% POST /v1/orders, for 60 s (or --duration), after a short unrecorded warm-up at the same
 * rate. Reads and writes are reported apart; goals: reads p99 ≤ 20 ms and zero errors.
 */
import { startChild } from "../lib/child.ts";
import { cpuSeconds } from "../lib/rss.ts";
import { runMixedOpenLoop, mixedRequests } from "../lib/mixed_open_loop.ts";
import { latencyGoal, limitGoal } from "../lib/report.ts";
import { sharedTarget } from "../lib/target.ts";
import type { BenchOptions, Scenario } from "../lib/types.ts";

export const STEADY_READ_SHARE = 0.9;
/** Requests per second when --rate is not given. */
export const STEADY_RATE = 1000;
/** Requests per second in smoke runs when --rate is not given. */
export const SMOKE_RATE = 50;
/** Seconds of load when --duration is not given. */
export const STEADY_DURATION_S = 60;
/** Body size of the bare HTTP floor run beside it (a typical read answer is 0.4–12 KiB). */
const FLOOR_BODY_BYTES = 1024;
/** Goal for reads p99, ms. */
export const STEADY_READ_P99_GOAL_MS = 20;

/** The rate of an open-loop mixed scenario: --rate, else 1,000/s (smoke: 50/s). */
export function mixedRate(options: BenchOptions): number {
  return options.rate ?? (options.smoke ? SMOKE_RATE : STEADY_RATE);
}

export const mixedSteady: Scenario = {
  name: "mixed-90-10-steady",
  description: `open loop at a fixed rate (default ${STEADY_RATE} req/s, --rate): 90% reads over all query routes / 10% POST /v1/orders for ${STEADY_DURATION_S} s (or --duration) after a short unrecorded warm-up; reads and writes apart (goal: reads p99 ≤ ${STEADY_READ_P99_GOAL_MS} ms, zero errors)`,
  async run(options) {
    const target = await sharedTarget(options);
    const rate = mixedRate(options);
    const durationS = options.durationSet || options.smoke ? options.durationS : STEADY_DURATION_S;
    const warmUpS = Math.max(0.5, Math.min(5, durationS / 5));
    const requests = mixedRequests(target, STEADY_READ_SHARE, "mixed-steady");
    options.log(`mixed-90-10-steady: warm-up ${warmUpS} s at ${rate}/s (not recorded)`);
    const warm = await runMixedOpenLoop({ target, requests, ratePerS: rate, durationS: warmUpS });
    if (warm.errors > 0) options.log(`mixed-90-10-steady: ${warm.errors} errors during the warm-up`);
    options.log(`mixed-90-10-steady: ${durationS} s at ${rate}/s`);
    const { reads, writes, errors } = await runMixedOpenLoop({ target, requests, ratePerS: rate, durationS, context: `after an unrecorded ${warmUpS} s warm-up at the same rate` });
    // Baseline in the same run: the same open loop (same schedule, client, request mix)
    // against a bare node:http server answering a prepared 1 KiB buffer to every request:
    // the latency this machine and client give a server that does nothing.
    options.log(`mixed-90-10-steady: baseline, the same load against the bare HTTP floor for ${durationS} s`);
    const floor = await startChild<{ url: string }>("bench/floor_server.ts", { args: [String(FLOOR_BODY_BYTES)], timeoutMs: 30_000 });
    let floorReads;
    try {
      const floorTarget = { ...target, url: floor.hello.url, cpuSeconds: () => cpuSeconds(floor.pid) };
      await runMixedOpenLoop({ target: floorTarget, requests, ratePerS: rate, durationS: warmUpS });
      floorReads = (await runMixedOpenLoop({
        target: floorTarget, requests, ratePerS: rate, durationS,
        labels: { reads: `http-floor ${FLOOR_BODY_BYTES} B reads @${rate}/s`, writes: `http-floor ${FLOOR_BODY_BYTES} B writes @${rate}/s` },
        context: "the bare HTTP floor answering every request with a prepared buffer, after a warm-up",
      })).reads;
    } finally {
      await floor.stop();
    }
    const measurements = [reads, writes, { ...floorReads, role: "baseline" as const, peakRssBytes: null }];
    return {
      params: { ratePerS: rate, durationS, readShare: STEADY_READ_SHARE, warmUpS, warmUpErrors: warm.errors, seededEvents: target.seededEvents, size: target.size },
      measurements,
      comparisons: [],
      latencyGoals: [latencyGoal(measurements, reads.label, "p99", STEADY_READ_P99_GOAL_MS)],
      limitGoals: [limitGoal("errors (reads + writes)", errors, 0, "", `${reads.errors} reads, ${writes.errors} writes`)],
    };
  },
};
