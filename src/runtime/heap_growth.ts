/**
 * How far V8 lets a heap grow past what the last full collection kept, for every isolate of
 * the process (the main thread and the projection worker threads).
 *
 * A catch-up or replay streams events through the main thread: each lives for the fraction
 * of a second a batch takes from the log read to the worker, long enough to be promoted to
 * the old generation, where it dies. V8's own heuristic let that old generation grow up to
 * about four times what was live before collecting it (a 1,000,000-event catch-up: 82 MiB
 * live in a 280 MiB heap, peak RSS 640–690 MiB). Growing by at most 25% keeps the heap near
 * its live size (peak RSS 512–536 MiB in clone runs, 484 MiB in the bench run); a catch-up
 * with it took 88 s against 82 and 94 s without it in alternating runs. Growing by 10–15%
 * cost 12–37% more CPU. See bench/RESULTS.md.
 */
import { setFlagsFromString } from "node:v8";

/** Percent by which a heap may grow past the live size of its last full collection. */
export const HEAP_GROWING_PERCENT = 25;

/**
 * Caps heap growth for the whole process (V8 reads the setting at every full collection, so
 * it holds from the next one on, in threads started before or after). Call once at start.
 */
export function boundHeapGrowth(percent: number = HEAP_GROWING_PERCENT): void {
  setFlagsFromString(`--heap-growing-percent=${percent}`);
}
