/**
 * freshness: how soon a write is readable. Each probe POSTs an order, then (a) polls
 * GET /v1/orders/{id} until 200 — visible-after latency from the POST's response — and
 * (b) reads once with X-Consistent-With: <position> — the consistent-read latency.
 * Measured idle and under a background place-order load.
 */
import { LatencyRecorder } from "../lib/latency.ts";
import { runHttpLoad } from "../lib/http_load.ts";
import { requestGenerators } from "../lib/requests.ts";
import { sharedTarget, type Target } from "../lib/target.ts";
import type { Measurement, Scenario } from "../lib/types.ts";

interface ProbeRun {
  visible: Measurement;
  consistent: Measurement;
}

async function probes(target: Target, label: string, durationS: number, maxProbes: number): Promise<ProbeRun> {
  const next = requestGenerators({ ...target.size, seed: target.size.seed }, target.token)["place-order"];
  const visible = new LatencyRecorder();
  const consistent = new LatencyRecorder();
  let errors = 0;
  let count = 0;
  const begin = performance.now();
  while (count < maxProbes && performance.now() - begin < durationS * 1000) {
    count++;
    const request = next();
    const body = JSON.parse(request.body!) as Record<string, unknown>;
    const id = crypto.randomUUID();
    const posted = await fetch(`${target.url}/v1/orders`, { method: "POST", headers: request.headers!, body: JSON.stringify({ id, ...body }), signal: AbortSignal.timeout(10_000) }).catch(() => null);
    if (posted?.status !== 201) { errors++; continue; }
    const { position } = (await posted.json()) as { position: string };
    const t0 = performance.now();
    let seen = false;
    while (performance.now() - t0 < 10_000) {
      const response = await fetch(`${target.url}/v1/orders/${id}`, { signal: AbortSignal.timeout(10_000) });
      await response.arrayBuffer();
      if (response.status === 200) { seen = true; break; }
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (seen) visible.record(performance.now() - t0);
    else errors++;
    const t1 = performance.now();
    const read = await fetch(`${target.url}/v1/orders/${id}`, { headers: { "x-consistent-with": position }, signal: AbortSignal.timeout(10_000) });
    await read.arrayBuffer();
    if (read.status === 200) consistent.record(performance.now() - t1);
    else errors++;
  }
  const elapsedS = (performance.now() - begin) / 1000;
  const measurement = (name: string, recorder: LatencyRecorder): Measurement => ({
    label: `${name} ${label}`, role: "subject", connections: 1, durationS: Math.round(elapsedS * 100) / 100, operations: recorder.count,
    throughput: Math.round((recorder.count / elapsedS) * 100) / 100, unit: "probe", latencyMs: recorder.summary(), errors,
    peakRssBytes: target.peakRss(), rssOf: "service child (shared; peak so far)",
  });
  return { visible: measurement("visible-after", visible), consistent: measurement("consistent-read", consistent) };
}

export const freshness: Scenario = {
  name: "freshness",
  description: "time from a POST /v1/orders answer until GET /v1/orders/{id} shows it (polling), and X-Consistent-With read latency; idle and under write load",
  async run(options) {
    const target = await sharedTarget(options);
    if (!target.token) throw new Error("freshness needs --token with scope commands for an external --url");
    const maxProbes = options.smoke ? 20 : 2000;
    const idle = await probes(target, "idle", options.durationS, maxProbes);
    const connections = options.connections[0]!;
    const next = requestGenerators(target.size, target.token)["place-order"];
    const [background, loaded] = await Promise.all([
      runHttpLoad({ label: `background place-order @${connections}`, role: "baseline", url: target.url, connections, durationS: options.durationS, next, peakRss: target.peakRss, rssOf: "service child", unit: "order" }),
      probes(target, `under load @${connections}`, options.durationS, maxProbes),
    ]);
    return { params: { maxProbes, backgroundConnections: connections }, measurements: [idle.visible, idle.consistent, loaded.visible, loaded.consistent, background], comparisons: [] };
  },
};
