/**
 * `npm run cli -- replay <projection>`: runs a blue/green replay in this process with a
 * live progress bar (plain lines when stdout is not a TTY). Ctrl-C stops it; running the
 * command again resumes from its checkpoints.
 */
import { lowerThreadPriority } from "./projections/runner/worker_pool.ts";
import { REPLAY_NICENESS, runReplay, type ReplayOptions, type ReplayResult } from "./projections/runner/replay.ts";

/** Runs the replay the CLI asked for, wiring SIGINT/SIGTERM to a clean stop; resolves with the result. */
export async function replayCommand(options: Omit<ReplayOptions, "signal" | "out"> & { out?: NodeJS.WritableStream }): Promise<ReplayResult> {
  // A rebuild yields the CPU to the live service on the same machine (its workers do too).
  lowerThreadPriority(REPLAY_NICENESS);
  const stop = new AbortController();
  const onSignal = (): void => stop.abort(new Error("replay interrupted; run the command again to resume"));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return await runReplay({ ...options, out: options.out ?? process.stdout, signal: stop.signal });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
