/**
 * Test support: runs main_process.ts in a child process (so tests can SIGKILL it) and
 * collects its log lines.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ProjectionModuleRef } from "../../define.ts";
import type { BulkTuning } from "../bulk_builder.ts";

const MAIN = fileURLToPath(new URL("../main_process.ts", import.meta.url));
const REPLAY = fileURLToPath(new URL("./replay_entry.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));

export interface RunnerProcess {
  child: ChildProcess;
  /** Log lines (parsed pino JSON) written so far. */
  logs: Array<Record<string, unknown>>;
  /** Resolves with the exit signal/code once the process ended. */
  exited: Promise<string>;
  kill(signal: NodeJS.Signals): Promise<string>;
}

/** Starts a projection runner process (or, with `replay`, a replay of that projection) on the given database and Redis prefix. */
export function startRunnerProcess(options: { databaseUrl: string; redisUrl: string | null; redisKeyPrefix: string; modules: ProjectionModuleRef[]; batchSize?: number; replay?: string; bulk?: BulkTuning }): RunnerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", options.replay ? REPLAY : MAIN], {
    cwd: ROOT,
    env: {
      ...process.env,
      REPLAY_NAME: options.replay ?? "",
      REPLAY_BATCH_SIZE: String(options.batchSize ?? 500),
      DATABASE_URL: options.databaseUrl,
      REDIS_URL: options.redisUrl ?? "off",
      REDIS_KEY_PREFIX: options.redisKeyPrefix,
      PROJECTION_MODULES: JSON.stringify(options.modules),
      PROJECTION_WORKERS: "2",
      PROJECTION_BATCH_SIZE: String(options.batchSize ?? 500),
      PROJECTION_BULK: options.bulk ? JSON.stringify(options.bulk) : "",
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Array<Record<string, unknown>> = [];
  let buffered = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line });
      }
    }
  });
  child.stderr!.on("data", (chunk: Buffer) => logs.push({ msg: chunk.toString("utf8"), stderr: true }));
  const exited = new Promise<string>((resolve) => child.once("exit", (code, signal) => resolve(signal ?? String(code))));
  return {
    child,
    logs,
    exited,
    async kill(signal) {
      child.kill(signal);
      return exited;
    },
  };
}
