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

/** The cap set at start (0: none), and how many callers have lifted it for now. */
let current = 0;
let lifted = 0;

/** Percent by which a heap may grow past the live size of its last full collection. */
export const HEAP_GROWING_PERCENT = 25;

/**
 * Caps heap growth for the whole process (V8 reads the setting at every full collection, so
 * it holds from the next one on, in threads started before or after). Call once at start.
 */
export function boundHeapGrowth(percent: number = HEAP_GROWING_PERCENT): void {
  current = percent;
  if (lifted === 0) apply(percent);
}

/** Sets V8's heap growing percent for the process (0: V8's own heuristic). */
function apply(percent: number): void {
  setFlagsFromString(`--heap-growing-percent=${percent}`);
}

/**
 * Lets V8 size heaps by its own heuristic while the returned release function has not been
 * called (nested calls count): for bulk builds, whose worker threads keep a large set of rows
 * alive from one flush to the next. Capped at 25%, a heap that holds 100 MiB of rows collects
 * every 25 MiB it promotes: a 1M-event build of the orders projection took 51.6 s of CPU
 * capped against 34.3 s with the cap lifted. The cap comes back with the last release.
 */
export function liftHeapGrowthCap(): () => void {
  if (lifted++ === 0 && current > 0) apply(0);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--lifted === 0 && current > 0) apply(current);
  };
}
