/**
 * freshness: how soon a write is readable. Headline: an open-loop load of POST /v1/orders
 * at a fixed 200 commands/s; for a share of those commands, GET /v1/orders/{id} is polled
 * (no X-Consistent-With, back to back, at most every 2 ms) from the POST's response until
 * it answers 200 — visible-after p50/p99, goal p99 ≤ 50 ms. Also: idle probes (visible-after
 * and one X-Consistent-With read) and probes under a closed-loop write load.
 */
import { LatencyRecorder } from "../lib/latency.ts";
import { runHttpLoad } from "../lib/http_load.ts";
import { runOpenLoop } from "../lib/open_loop.ts";
import { latencyGoal } from "../lib/report.ts";
import { requestGenerators } from "../lib/requests.ts";
import { sharedTarget, type Target } from "../lib/target.ts";
import type { Measurement, Scenario } from "../lib/types.ts";

/** Commands per second of the open-loop load. */
export const FRESHNESS_RATE = 200;
/** Goal for visible-after p99 at that rate, ms. */
export const FRESHNESS_P99_GOAL_MS = 50;
const POLL_SPACING_MS = 2;
const VISIBLE_TIMEOUT_MS = 10_000;

/** Polls GET /v1/orders/{id} (no consistency header) until 200; resolves with ms from `t0`, or null after 10 s. */
async function visibleAfter(target: Target, id: string, t0: number): Promise<number | null> {
  while (performance.now() - t0 < VISIBLE_TIMEOUT_MS) {
    const sent = performance.now();
    const response = await fetch(`${target.url}/v1/orders/${id}`, { signal: AbortSignal.timeout(VISIBLE_TIMEOUT_MS) });
    await response.arrayBuffer();
    if (response.status === 200) return performance.now() - t0;
    const rest = POLL_SPACING_MS - (performance.now() - sent);
    if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
  }
  return null;
}

/** POSTs one order with a known id; resolves with its id and position, or null on a non-201. */
async function placeOrder(target: Target, next: ReturnType<typeof requestGenerators>["place-order"]): Promise<{ id: string; position: string } | null> {
  const request = next();
  const id = crypto.randomUUID();
  const body = { id, ...(JSON.parse(request.body!) as Record<string, unknown>) };
  const posted = await fetch(`${target.url}/v1/orders`, { method: "POST", headers: request.headers!, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  if (posted.status !== 201) { await posted.arrayBuffer(); return null; }
  const { position } = (await posted.json()) as { position: string };
  return { id, position };
}

function latencyMeasurement(label: string, recorder: LatencyRecorder, elapsedS: number, errors: number, target: Target, extra: Partial<Measurement> = {}): Measurement {
  return {
    label, role: "subject", connections: 1, durationS: Math.round(elapsedS * 100) / 100, operations: recorder.count,
    throughput: Math.round((recorder.count / elapsedS) * 100) / 100, unit: "probe", latencyMs: recorder.summary(), errors,
    peakRssBytes: target.peakRss(), rssOf: "service child (shared; peak so far)", ...extra,
  };
}

/** Seconds of the same open loop run first and not recorded (connections, JIT, pools), for a run of `durationS`. */
export function warmUpSeconds(durationS: number): number {
  return Math.min(3, durationS / 4);
}

/** The headline: open-loop commands at `rate`/s, every `probeEvery`-th one polled until visible (after an unrecorded warm-up). */
async function openLoopFreshness(target: Target, rate: number, durationS: number, probeEvery: number): Promise<Measurement[]> {
  const next = requestGenerators(target.size, target.token)["place-order"];
  await runOpenLoop({
    label: "warm-up", role: "baseline", unit: "order", ratePerS: rate, durationS: warmUpSeconds(durationS), maxInFlight: 2000, peakRss: target.peakRss, rssOf: "service child",
    operation: async (n) => {
      const placed = await placeOrder(target, next);
      if (placed !== null && n % probeEvery === 0) await visibleAfter(target, placed.id, performance.now());
    },
  });
  const visible = new LatencyRecorder();
  const probes: Promise<void>[] = [];
  let probeErrors = 0;
  const begin = performance.now();
  const load = await runOpenLoop({
    label: `place-order open loop ${rate}/s`, role: "subject", unit: "order", ratePerS: rate, durationS, maxInFlight: 2000, peakRss: target.peakRss, rssOf: "service child (shared; peak so far)",
    operation: async (n) => {
      const placed = await placeOrder(target, next);
      if (placed === null) throw new Error("POST /v1/orders did not answer 201");
      if (n % probeEvery !== 0) return;
      probes.push(visibleAfter(target, placed.id, performance.now()).then((ms) => { if (ms === null) probeErrors++; else visible.record(ms); }, () => { probeErrors++; }));
    },
  });
  await Promise.all(probes);
  const elapsedS = (performance.now() - begin) / 1000;
  return [
    latencyMeasurement(`visible-after @${rate}/s`, visible, elapsedS, probeErrors, target, { connections: null, notes: `after ${warmUpSeconds(durationS)} s of the same load unrecorded, 1 in ${probeEvery} commands of the open loop polled (GET /v1/orders/{id} back to back, ≥ ${POLL_SPACING_MS} ms apart, no X-Consistent-With) from the POST's response to the first 200` }),
    load,
  ];
}

/** Sequential probes: POST, poll until visible, then one X-Consistent-With read. */
async function probes(target: Target, label: string, durationS: number, maxProbes: number): Promise<Measurement[]> {
  const next = requestGenerators({ ...target.size, seed: target.size.seed }, target.token)["place-order"];
  const visible = new LatencyRecorder();
  const consistent = new LatencyRecorder();
  let errors = 0;
  let count = 0;
  const begin = performance.now();
  while (count < maxProbes && performance.now() - begin < durationS * 1000) {
    count++;
    const placed = await placeOrder(target, next).catch(() => null);
    if (placed === null) { errors++; continue; }
    const ms = await visibleAfter(target, placed.id, performance.now());
    if (ms === null) errors++;
    else visible.record(ms);
    const t1 = performance.now();
    const read = await fetch(`${target.url}/v1/orders/${placed.id}`, { headers: { "x-consistent-with": placed.position }, signal: AbortSignal.timeout(10_000) });
    await read.arrayBuffer();
    if (read.status === 200) consistent.record(performance.now() - t1);
    else errors++;
  }
  const elapsedS = (performance.now() - begin) / 1000;
  return [latencyMeasurement(`visible-after ${label}`, visible, elapsedS, errors, target), latencyMeasurement(`consistent-read ${label}`, consistent, elapsedS, errors, target)];
}

export const freshness: Scenario = {
  name: "freshness",
  description: `time from a POST /v1/orders answer until GET /v1/orders/{id} shows it, at an open-loop ${FRESHNESS_RATE} commands/s (goal p99 ≤ ${FRESHNESS_P99_GOAL_MS} ms); also idle, under a closed-loop write load, and X-Consistent-With read latency`,
  async run(options) {
    const target = await sharedTarget(options);
    if (!target.token) throw new Error("freshness needs --token with scope commands for an external --url");
    const maxProbes = options.smoke ? 20 : 2000;
    const probeEvery = 4;
    const measurements: Measurement[] = [];
    measurements.push(...(await openLoopFreshness(target, FRESHNESS_RATE, options.durationS, probeEvery)));
    measurements.push(...(await probes(target, "idle", options.durationS, maxProbes)));
    const connections = options.connections[0]!;
    const next = requestGenerators(target.size, target.token)["place-order"];
    const [background, loaded] = await Promise.all([
      runHttpLoad({ label: `background place-order closed loop @${connections}`, role: "baseline", url: target.url, connections, durationS: options.durationS, next, peakRss: target.peakRss, rssOf: "service child", unit: "order" }),
      probes(target, `under closed-loop load @${connections}`, options.durationS, maxProbes),
    ]);
    measurements.push(...loaded, background);
    const latencyGoals = [latencyGoal(measurements, `visible-after @${FRESHNESS_RATE}/s`, "p99", FRESHNESS_P99_GOAL_MS)];
    return { params: { rate: FRESHNESS_RATE, probeEvery, pollSpacingMs: POLL_SPACING_MS, maxProbes, backgroundConnections: connections }, measurements, comparisons: [], latencyGoals };
  },
};
