/**
 * Scheduling priority of this process's threads: a replay yields the CPU to the live service
 * on the same machine. Kept free of other imports, so an entry point can lower itself before
 * it loads (and compiles) the rest of the code.
 */
import { readdirSync } from "node:fs";
import { setPriority } from "node:os";

/** Scheduling niceness of a replay's threads (and of the CLI process running one). */
export const REPLAY_NICENESS = 10;

/** Lowers the calling thread's scheduling priority (on Linux, pid 0 is the calling thread only); a no-op where not permitted. */
export function lowerThreadPriority(niceness: number): void {
  try {
    setPriority(0, niceness);
  } catch {
    // Not permitted here: run at normal priority.
  }
}

/**
 * Lowers the scheduling priority of every thread of this process: on Linux a priority is per
 * thread, and V8's garbage-collection helpers and libuv's pool run beside the main thread
 * (threads started later inherit it from the thread that starts them). Elsewhere, or where
 * /proc is not readable, the calling thread only. A thread not permitted is left as it is.
 */
export function lowerProcessPriority(niceness: number): void {
  let threads: string[];
  try {
    threads = readdirSync("/proc/self/task");
  } catch {
    lowerThreadPriority(niceness);
    return;
  }
  for (const tid of threads) {
    try {
      setPriority(Number(tid), niceness);
    } catch {
      // Gone, or not permitted.
    }
  }
}
