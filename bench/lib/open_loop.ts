/**
 * An open-loop load generator: starts operations at a fixed rate regardless of how long
 * earlier ones take (no coordinated omission: latency counts from the scheduled start).
 */
import { getPriority, setPriority } from "node:os";
import { LatencyRecorder } from "./latency.ts";
import type { Measurement } from "./types.ts";

export interface OpenLoopOptions {
  label: string;
  role: Measurement["role"];
  unit: string;
  /** Operations started per second. */
  ratePerS: number;
  durationS: number;
  /** Operations in flight beyond this are not started and count as errors (bounds memory and sockets). */
  maxInFlight: number;
  /** Operation n; `scheduledAt` is its slot on the schedule, or its send when sent up to 1 ms early (performance.now() time), for callers that keep their own latencies. */
  operation(n: number, scheduledAt: number): Promise<void>;
  /** Called for an operation not started because maxInFlight were in flight (it counts as an error). */
  onDropped?(n: number): void;
  peakRss?: () => number | null;
  rssOf?: string;
}

/** Niceness the load generator's thread asks for while it runs (see raiseGeneratorPriority). */
const GENERATOR_NICENESS = Number(process.env["BENCH_GENERATOR_NICENESS"] ?? -10);

/**
 * Raises the calling thread's scheduling priority (Linux: per thread) while a load runs, so
 * that on a machine shared with the service and PostgreSQL the generator's own wait for a
 * CPU is not counted as the service's latency (it is reported either way). Returns a
 * function that restores the previous priority, and a note for the results; without the
 * privilege it changes nothing and says so.
 */
export function raiseGeneratorPriority(): { restore: () => void; note: string } {
  let previous: number;
  try {
    previous = getPriority(0);
    setPriority(0, GENERATOR_NICENESS);
  } catch {
    return { restore: () => undefined, note: "load generator at normal priority (raising it is not permitted here)" };
  }
  return {
    restore: () => {
      try {
        setPriority(0, previous);
      } catch {
        // Lowering back needs no privilege; nothing else to do.
      }
    },
    note: `load generator thread at niceness ${GENERATOR_NICENESS} (the service and PostgreSQL at their own), so its wait for a CPU is not counted as service latency`,
  };
}

/** Runs `operation` at ratePerS for durationS, waits for the stragglers, and returns latencies from each scheduled start. */
export async function runOpenLoop(options: OpenLoopOptions): Promise<Measurement> {
  const priority = raiseGeneratorPriority();
  try {
    return await runOpenLoopAtPriority(options, priority.note);
  } finally {
    priority.restore();
  }
}

async function runOpenLoopAtPriority(options: OpenLoopOptions, priorityNote: string): Promise<Measurement> {
  const recorder = new LatencyRecorder();
  const total = Math.max(1, Math.round(options.ratePerS * options.durationS));
  const intervalMs = 1000 / options.ratePerS;
  const inFlight = new Set<Promise<void>>();
  let errors = 0;
  let dropped = 0;
  let firstError: string | null = null;
  const begin = performance.now();
  for (let n = 0; n < total; n++) {
    const scheduled = begin + n * intervalMs;
    const wait = scheduled - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    if (inFlight.size >= options.maxInFlight) {
      dropped++;
      options.onDropped?.(n);
      continue;
    }
    // A slot less than 1 ms ahead is sent at once rather than after a timer: latency then
    // counts from the send, never from a scheduled time still to come (no negative latencies).
    const start = Math.min(scheduled, performance.now());
    const running: Promise<void> = options.operation(n, start).then(
      () => recorder.record(performance.now() - start),
      (error: unknown) => { errors++; firstError ??= (error as Error).message; },
    ).finally(() => inFlight.delete(running));
    inFlight.add(running);
  }
  const sentS = (performance.now() - begin) / 1000;
  await Promise.all([...inFlight]);
  const elapsedS = (performance.now() - begin) / 1000;
  const notes = [`open loop at ${options.ratePerS}/s for ${options.durationS} s (scheduled ${total}, started over ${sentS.toFixed(2)} s); latency from the scheduled start`];
  if (dropped > 0) notes.push(`${dropped} not started: ${options.maxInFlight} already in flight`);
  if (firstError !== null) notes.push(`first error: ${firstError}`);
  notes.push(priorityNote);
  return {
    label: options.label, role: options.role, connections: null, durationS: Math.round(elapsedS * 100) / 100, operations: recorder.count,
    throughput: Math.round((recorder.count / elapsedS) * 100) / 100, unit: options.unit, latencyMs: recorder.summary(), errors: errors + dropped,
    peakRssBytes: options.peakRss?.() ?? null, ...(options.rssOf === undefined ? {} : { rssOf: options.rssOf }), notes: notes.join("; "),
  };
}
