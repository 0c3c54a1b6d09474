/**
 * An open-loop mixed load: requests start on a fixed schedule (runOpenLoop) whatever earlier
 * ones are doing; each slot is a read (spread over every query route, READ_KINDS) with
 * probability readShare, else POST /v1/orders. Reads and writes keep separate latencies
 * (from the slot's scheduled start, so a stalled service shows as latency, not as fewer
 * requests) and separate error counts. The client is node:http with a keep-alive agent
 * (lighter than fetch, so less of the shared CPU goes to the load generator) and sends no
 * Accept-Encoding, like the autocannon scenarios (identity bodies).
 */
import http from "node:http";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createRandom } from "../../src/seed/prng.ts";
import { assertLoopback, type LoadRequest } from "./http_load.ts";
import { LatencyRecorder } from "./latency.ts";
import { runOpenLoop } from "./open_loop.ts";
import { READ_KINDS, requestGenerators } from "./requests.ts";
import type { Target } from "./target.ts";
import type { Measurement } from "./types.ts";

/** A request not answered within this is a timeout (an error). */
export const REQUEST_TIMEOUT_MS = 10_000;
/** Slots beyond this many requests in flight are not started and count as errors. */
export const MAX_IN_FLIGHT = 2000;
/** Keep-alive sockets of the client at most (requests beyond wait in the agent, and that wait counts as latency). */
export const MAX_SOCKETS = 256;

/** The request mix: which kind each slot is, and the next request of each kind (one sequence across runs). */
export interface MixedRequests {
  readShare: number;
  isRead(): boolean;
  /** The next read and the route kind it exercises. */
  read(): LoadRequest & { kind?: string };
  write(): LoadRequest;
}

/** Reads over every query route (uniform over READ_KINDS) and POST /v1/orders, deterministic per seed and tag. */
export function mixedRequests(target: Target, readShare: number, tag: string): MixedRequests {
  if (!target.token) throw new Error("a mixed load needs --token with scope commands for an external --url");
  const generators = requestGenerators(target.size, target.token);
  const kinds = createRandom(target.size.seed, `${tag}-kind`);
  const routes = createRandom(target.size.seed, `${tag}-route`);
  return {
    readShare,
    isRead: () => kinds.chance(readShare),
    read: () => {
      const kind = routes.pick(READ_KINDS);
      return { ...generators[kind](), kind };
    },
    write: generators["place-order"],
  };
}

/** Sends one request and reads the whole answer; resolves with the status code. */
function send(agent: http.Agent, base: URL, request: LoadRequest): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = request.body;
    const req = http.request({
      agent, hostname: base.hostname.replace(/^\[|\]$/g, ""), port: base.port, method: request.method ?? "GET", path: request.path,
      headers: { ...request.headers, ...(body === undefined ? {} : { "content-length": String(Buffer.byteLength(body)) }) },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    }, (res) => {
      res.on("data", () => undefined);
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

class Side {
  readonly recorder = new LatencyRecorder();
  errors = 0;
  dropped = 0;
  readonly statusCodes: Record<string, number> = {};
  readonly errorKinds = new Map<string, number>();

  fail(reason: string): void {
    this.errors++;
    this.errorKinds.set(reason, (this.errorKinds.get(reason) ?? 0) + 1);
  }
}

export interface MixedOpenLoopOptions {
  target: Target;
  requests: MixedRequests;
  ratePerS: number;
  durationS: number;
  /** Measurement labels: `${label} @${rate}/s` with label "reads" / "writes" unless given. */
  labels?: { reads: string; writes: string };
  /** What the open loop's notes add (e.g. "after a 5 s warm-up"). */
  context?: string;
}

export interface MixedOpenLoopResult {
  reads: Measurement;
  writes: Measurement;
  /** Errors of both sides, including slots not started. */
  errors: number;
}

function ok(status: number): boolean {
  return (status >= 200 && status < 300) || status === 304;
}

function describeErrors(side: Side): string {
  return [...side.errorKinds].map(([reason, count]) => `${count}× ${reason}`).join(", ");
}

/** Runs the mix open-loop at ratePerS for durationS (then waits for the stragglers) and returns a read and a write measurement. */
export async function runMixedOpenLoop(options: MixedOpenLoopOptions): Promise<MixedOpenLoopResult> {
  const { target, requests, ratePerS } = options;
  assertLoopback(target.url);
  const base = new URL(target.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS });
  const reads = new Side();
  const writes = new Side();
  const byRoute = new Map<string, LatencyRecorder>();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const cpuBefore = process.cpuUsage();
  const serviceCpuBefore = target.cpuSeconds();
  try {
    const load = await runOpenLoop({
      label: "mixed open loop", role: "subject", unit: "req", ratePerS, durationS: options.durationS, maxInFlight: MAX_IN_FLIGHT,
      operation: async (_n, scheduledAt) => {
        const read = requests.isRead();
        const side = read ? reads : writes;
        const request = read ? requests.read() : requests.write();
        let status: number;
        try {
          status = await send(agent, base, request);
        } catch (error) {
          const message = (error as Error).name === "TimeoutError" || (error as Error).name === "AbortError" ? `timeout (${REQUEST_TIMEOUT_MS} ms)` : (error as Error).message;
          side.fail(message);
          throw error;
        }
        side.statusCodes[status] = (side.statusCodes[status] ?? 0) + 1;
        if (!ok(status)) {
          side.fail(`${request.method ?? "GET"} answered ${status}`);
          throw new Error(`${request.method ?? "GET"} ${request.path} answered ${status}`);
        }
        const latency = performance.now() - scheduledAt;
        side.recorder.record(latency);
        const kind = (request as { kind?: string }).kind;
        if (read && kind !== undefined) {
          let recorder = byRoute.get(kind);
          if (recorder === undefined) byRoute.set(kind, (recorder = new LatencyRecorder()));
          recorder.record(latency);
        }
      },
      onDropped: () => {
        const side = requests.isRead() ? reads : writes;
        side.dropped++;
        side.fail(`not started (${MAX_IN_FLIGHT} in flight)`);
      },
    });
    const elapsedS = load.durationS;
    loopDelay.disable();
    const cpu = process.cpuUsage(cpuBefore);
    const clientCpu = Math.round(((cpu.user + cpu.system) / 1e6 / elapsedS) * 100);
    const serviceCpuAfter = target.cpuSeconds();
    const serviceCpu = serviceCpuBefore === null || serviceCpuAfter === null ? null : serviceCpuAfter - serviceCpuBefore;
    const served = reads.recorder.count + writes.recorder.count;
    // Node 20's histogram holds the whole timer interval (≈ the 10 ms resolution when idle): lateness is beyond its minimum.
    const lagMs = (ns: number): string => (Math.max(0, ns - loopDelay.min) / 1e6).toFixed(1);
    const share = (fraction: number) => `${Math.round(fraction * 100)}%`;
    const common = [
      `${load.notes ?? `open loop at ${ratePerS}/s`}${options.context ? ` (${options.context})` : ""}`,
      "runOpenLoop starts each request at its slot n/rate (it sleeps only when more than 1 ms ahead, so a request may leave up to 1 ms early) and latency counts from the slot, or from the send when that was earlier (no coordinated omission, no negative latencies)",
      `node:http keep-alive client, ≤ ${MAX_SOCKETS} sockets, no Accept-Encoding, ${REQUEST_TIMEOUT_MS / 1000} s timeout; errors = any status but 2xx/304, network errors, timeouts, and slots not started with ${MAX_IN_FLIGHT} in flight`,
      `reads p95 / p99 ms by route: ${[...byRoute].map(([kind, recorder]) => {
        const summary = recorder.summary();
        return `${kind} ${summary?.p95.toFixed(1) ?? "-"} / ${summary?.p99.toFixed(1) ?? "-"}`;
      }).join(", ")}`,
      ...(serviceCpu === null ? [] : [`service CPU (all threads): ${Math.round((serviceCpu / elapsedS) * 100)}% of one core, ${served > 0 ? Math.round((serviceCpu / served) * 1e6) : "-"} µs per request`]),
      `load generator (bench process): ${clientCpu}% of one core; its event loop ran late by p99 ${lagMs(loopDelay.percentile(99))} ms, max ${lagMs(loopDelay.max)} ms (a 10 ms timer's lateness: waiting for a CPU or its own work; it is in every latency)`,
    ];
    const measurement = (side: Side, label: string, what: string): Measurement => {
      const errors = describeErrors(side);
      return {
        label, role: "subject", connections: null, durationS: elapsedS, operations: side.recorder.count,
        throughput: Math.round((side.recorder.count / elapsedS) * 100) / 100, unit: "req", latencyMs: side.recorder.summary(), errors: side.errors,
        statusCodes: side.statusCodes, peakRssBytes: target.peakRss(), rssOf: "service child (shared; peak so far)",
        notes: [what, ...common, ...(errors === "" ? [] : [`errors: ${errors}`])].join("; "),
      };
    };
    const labels = options.labels ?? { reads: `reads @${ratePerS}/s`, writes: `writes @${ratePerS}/s` };
    return {
      reads: measurement(reads, labels.reads, `${share(requests.readShare)} of the slots: GET over ${READ_KINDS.join(", ")} (uniform over routes)`),
      writes: measurement(writes, labels.writes, `${share(1 - requests.readShare)} of the slots: POST /v1/orders`),
      errors: reads.errors + writes.errors,
    };
  } finally {
    agent.destroy();
  }
}
