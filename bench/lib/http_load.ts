/** Drives HTTP load with autocannon against a loopback target and turns the run into a Measurement. */
import { createRequire } from "node:module";
import { LatencyRecorder } from "./latency.ts";
import type { Measurement } from "./types.ts";

export interface LoadRequest {
  method?: "GET" | "POST";
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (request: AutocannonRequest) => AutocannonRequest;
}

interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats: Record<string, { count: number | string }>;
}

interface AutocannonInstance {
  on(event: "response", listener: (client: unknown, statusCode: number, bytes: number, responseTime: number) => void): void;
}

type Autocannon = (options: Record<string, unknown>, callback: (error: Error | null, result: AutocannonResult) => void) => AutocannonInstance;

const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

export interface HttpLoadOptions {
  label: string;
  role: Measurement["role"];
  url: string;
  connections: number;
  durationS: number;
  /** Builds the next request; called once per request (bodies can vary). */
  next: () => LoadRequest;
  /** Status codes counted as success besides 2xx (e.g. 304). */
  okStatuses?: number[];
  /** Sampled at the end of the run (peak RSS of the measured process). */
  peakRss?: () => number | null;
  rssOf?: string;
  unit?: string;
}

/** Refuses anything but a loopback target: load tests never leave this machine. */
export function assertLoopback(url: string): void {
  const host = new URL(url).hostname;
  if (host !== "127.0.0.1" && host !== "localhost" && host !== "[::1]") throw new Error(`load target must be 127.0.0.1, not ${host}`);
}

/** Runs autocannon for durationS at `connections`; every latency is recorded (not only autocannon's fixed percentiles). */
export async function runHttpLoad(options: HttpLoadOptions): Promise<Measurement> {
  assertLoopback(options.url);
  const recorder = new LatencyRecorder();
  const ok = new Set(options.okStatuses ?? []);
  let failed = 0;
  const request: AutocannonRequest = {
    setupRequest: (req) => {
      const next = options.next();
      return { ...req, method: next.method ?? "GET", path: next.path, headers: { ...next.headers }, ...(next.body === undefined ? {} : { body: next.body }) };
    },
  };
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon(
      { url: options.url, connections: options.connections, duration: options.durationS, requests: [request], timeout: 10 },
      (error, value) => (error ? reject(error) : resolve(value)),
    );
    instance.on("response", (_client, statusCode, _bytes, responseTime) => {
      recorder.record(responseTime);
      if (!(statusCode >= 200 && statusCode < 300) && !ok.has(statusCode)) failed++;
    });
  });
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [code, Number(stat.count)]));
  return {
    label: options.label,
    role: options.role,
    connections: options.connections,
    durationS: result.duration,
    operations: recorder.count,
    throughput: Math.round((recorder.count / result.duration) * 100) / 100,
    unit: options.unit ?? "req",
    latencyMs: recorder.summary(),
    errors: failed + result.errors,
    statusCodes,
    // Client-side errors told apart: no answer within the 10 s timeout, or a connection error.
    ...(result.errors > 0 ? { notes: `client errors: ${result.timeouts} timeouts (no answer in 10 s), ${result.errors - result.timeouts} connection errors` } : {}),
    peakRssBytes: options.peakRss?.() ?? null,
    ...(options.rssOf === undefined ? {} : { rssOf: options.rssOf }),
  };
}

/** Seconds of an unrecorded pass before a closed-loop run of `durationS` (a fifth of it, 0.5 to 5 s). */
export function warmUpSeconds(durationS: number): number {
  return Math.max(0.5, Math.min(5, durationS / 5));
}

/** A short unrecorded pass so JIT, pools and caches are warm before measuring (warmUpSeconds). */
export async function warmUp(options: Pick<HttpLoadOptions, "url" | "next" | "connections" | "durationS">): Promise<void> {
  await runHttpLoad({ ...options, label: "warm-up", role: "subject", durationS: warmUpSeconds(options.durationS), okStatuses: [304, 404] });
}
