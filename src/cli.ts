/**
 * Entry of the operator command line (`npm run cli -- <command>`, see cli_main.ts). A replay
 * lowers every thread of the process to the replay niceness first, before the rest of the
 * code is loaded and compiled at normal priority beside the live service (live reads had their
 * worst p99, ~20 ms, in a replay's first seconds). Every thread: V8's GC helpers used 26–33 of
 * 72–79 CPU seconds of a 1M-event catch-up and would otherwise keep normal priority; threads
 * started later inherit the niceness.
 */
import { lowerProcessPriority, REPLAY_NICENESS } from "./runtime/priority.ts";

if (process.argv[2] === "replay") lowerProcessPriority(REPLAY_NICENESS);
const { runCli } = await import("./cli_main.ts");
process.exit(await runCli(process.argv.slice(2)));
