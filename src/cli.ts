/**
 * Entry of the operator command line (`npm run cli -- <command>`, see cli_main.ts). A replay
 * lowers every thread of the process to the replay niceness first, before the rest of the
 * code is loaded: compiling it takes a second or two of CPU, which the live service beside it
 * should not have to wait for.
 */
import { lowerProcessPriority, REPLAY_NICENESS } from "./runtime/priority.ts";

if (process.argv[2] === "replay") lowerProcessPriority(REPLAY_NICENESS);
const { runCli } = await import("./cli_main.ts");
process.exit(await runCli(process.argv.slice(2)));
