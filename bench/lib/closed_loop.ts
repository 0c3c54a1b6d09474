/** A closed-loop load generator for in-process operations: N lanes, each starting its next operation when the last ends. */
import { LatencyRecorder } from "./latency.ts";
import { peakRss, resetOwnPeakRss } from "./rss.ts";
import type { Measurement } from "./types.ts";

export interface ClosedLoopOptions {
  label: string;
  role: Measurement["role"];
  unit: string;
  concurrency: number;
  durationS: number;
  /** Hard cap on operations (every loop is bounded in count and time). */
  maxOperations?: number;
  /** One operation; `lane` is 0..concurrency-1, `n` a global sequence number. */
  operation(lane: number, n: number): Promise<void>;
}

/** Runs the operation in `concurrency` lanes for `durationS` (or until maxOperations); errors are counted, not thrown. */
export async function runClosedLoop(options: ClosedLoopOptions): Promise<Measurement> {
  const recorder = new LatencyRecorder();
  const maxOperations = options.maxOperations ?? 50_000_000;
  let started = 0;
  let errors = 0;
  let firstError: string | null = null;
  resetOwnPeakRss();
  const begin = performance.now();
  const deadline = begin + options.durationS * 1000;
  async function lane(index: number): Promise<void> {
    while (performance.now() < deadline && started < maxOperations) {
      const n = started++;
      const t0 = performance.now();
      try {
        await options.operation(index, n);
        recorder.record(performance.now() - t0);
      } catch (error) {
        errors++;
        firstError ??= (error as Error).message;
      }
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, (_, index) => lane(index)));
  const elapsedS = (performance.now() - begin) / 1000;
  return {
    label: options.label,
    role: options.role,
    connections: options.concurrency,
    durationS: round(elapsedS),
    operations: recorder.count,
    throughput: round(recorder.count / elapsedS),
    unit: options.unit,
    latencyMs: recorder.summary(),
    errors,
    peakRssBytes: peakRss(process.pid),
    rssOf: "bench process (client side)",
    ...(firstError === null ? {} : { notes: `first error: ${firstError}` }),
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
