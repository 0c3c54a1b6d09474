/**
 * `npm run cli -- replay <projection...>`: runs blue/green replays in this process with a
 * live progress bar (plain lines when stdout is not a TTY or when several run at once). Ctrl-C stops it; running the
 * command again resumes from its checkpoints.
 */
import { runReplays, type ReplayOptions, type ReplayResult } from "./projections/runner/replay.ts";

/** Runs the replays the CLI asked for (several: in one pass, see runReplays), wiring SIGINT/SIGTERM to a clean stop; resolves with the results in order. */
export async function replayCommand(options: Omit<ReplayOptions, "signal" | "out" | "name" | "piscina"> & { names: readonly string[]; out?: NodeJS.WritableStream }): Promise<ReplayResult[]> {
  // Every thread of this process already runs at the replay niceness (cli.ts); its workers lower themselves too.
  const stop = new AbortController();
  const onSignal = (): void => stop.abort(new Error("replay interrupted; run the command again to resume"));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return await runReplays({ ...options, out: options.out ?? process.stdout, signal: stop.signal });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
