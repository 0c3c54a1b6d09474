/** Latency samples in a growable typed array, summarized into percentiles. */
import type { LatencySummary } from "./types.ts";

const MAX_SAMPLES = 20_000_000;

/** Records latencies (ms) and summarizes them; keeps every sample up to 20M (then stops recording). */
export class LatencyRecorder {
  #samples = new Float64Array(4096);
  #count = 0;

  record(ms: number): void {
    if (this.#count === this.#samples.length) {
      if (this.#count >= MAX_SAMPLES) return;
      const grown = new Float64Array(this.#samples.length * 2);
      grown.set(this.#samples);
      this.#samples = grown;
    }
    this.#samples[this.#count++] = ms;
  }

  get count(): number {
    return this.#count;
  }

  summary(): LatencySummary | null {
    if (this.#count === 0) return null;
    const sorted = this.#samples.slice(0, this.#count).sort();
    const at = (q: number): number => round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
    let sum = 0;
    for (const value of sorted) sum += value;
    return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: round(sorted[sorted.length - 1]!), mean: round(sum / sorted.length) };
  }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
