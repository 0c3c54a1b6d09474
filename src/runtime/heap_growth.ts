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

/** The cap set at start (0: none), and how many builds run now (they set their own growth). */
let current = 0;
let builds = 0;

/** Percent by which a heap may grow past the live size of its last full collection. */
export const HEAP_GROWING_PERCENT = 25;

/**
 * The same for the service (the API beside the projections): its catch-ups run as bulk
 * builds on threads of their own (and heaps grow by BUILD_HEAP_GROWING_PERCENT while they
 * do), so between builds its main heap holds little (~30-45 MiB live under a mixed load).
 * Capped at 25%, V8 started marking again right after nearly every young collection: 1.5-3
 * full collections a second at 1,000 requests/s, 4-12 ms pauses each. At 100%: three in 40
 * s, the heap 69-89 MiB (36-61 MiB used); read p95 / p99 4.5-4.8 / 13.2-14.5 ms against 6.2-6.3 / 15.1-17.0
 * at 25% (mixed 90/10, alternating runs, bench/RESULTS.md 2026-12-07).
 */
export const SERVICE_HEAP_GROWING_PERCENT = 100;

/**
 * Caps heap growth for the whole process (V8 reads the setting at every full collection, so
 * it holds from the next one on, in threads started before or after). Call once at start.
 */
export function boundHeapGrowth(percent: number = HEAP_GROWING_PERCENT): void {
  current = percent;
  if (builds === 0) apply(percent);
}

/** Sets V8's heap growing percent for the process (0: V8's own heuristic). */
function apply(percent: number): void {
  setFlagsFromString(`--heap-growing-percent=${percent}`);
}

/**
 * Percent by which heaps may grow past their live size while a bulk build runs. V8's own
 * heuristic scales its factor with the isolate's heap limit: a build thread, limited to
 * 384 MiB, got about 1.35 (old generation 35 -> 60 MiB, then a full collection: 148 of them
 * in one orders build of a 1M-event catch-up, every ~300 ms). Doubling (100%), together with
 * builds at normal priority in the service (start.ts), took the catch-up from 46.4-49.7 to
 * 42.5-46.1 s in alternating runs (service CPU 53.5-58.9 -> 47.6-51.6 s) for 6-20 MiB more
 * peak RSS; at 200%, one run each: 46.7 against 49.2 s, 508 against 462 MiB. 250%, with new
 * rows flushed every 1,500 (build.ts FLUSH_NEW_ROWS): ~9% less CPU in a service's catch-up
 * (peak RSS 426-469 MiB), but a replay CLI of all three peaked at 512 MiB against 377-397
 * with 100% (bench/RESULTS.md, 2026-12-06).
 */
export const BUILD_HEAP_GROWING_PERCENT = 100;

/**
 * Sets heap growth to BUILD_HEAP_GROWING_PERCENT for the whole process while the returned
 * release function has not been called (nested calls count): for bulk builds, whose worker
 * threads keep a set of rows alive from one flush to the next (capped at 25%, a heap that
 * holds 100 MiB of rows collects every 25 MiB it promotes). The setting from before (the
 * cap, or V8's heuristic) comes back with the last release.
 */
export function growHeapsForBuild(): () => void {
  if (builds++ === 0) apply(BUILD_HEAP_GROWING_PERCENT);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--builds === 0) apply(current);
  };
}
