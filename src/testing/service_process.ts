/**
 * The real entry point (`node --import tsx src/main.ts`) as a child process, so a test
 * can signal or SIGKILL it; resolves once it logs "service listening".
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** The token a started service accepts unless told another (scopes commands + operator). */
export const SERVICE_TOKEN = "test-service-token";

export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  /** The last log lines (stdout and stderr), for failure messages. */
  logs: string[];
  exited: Promise<number | null>;
  /** Sends a signal and waits for the exit (SIGKILL by default). */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Resolves with the URL of the service's "service listening" log line on `stdout`; `onLine` sees every line. */
export function listeningUrl(stdout: Readable, onLine: (line: string) => void = () => undefined): Promise<string> {
  return new Promise((resolve) => {
    createInterface({ input: stdout }).on("line", (line) => {
      onLine(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === "service listening" && entry.url) resolve(entry.url);
      } catch {
        // not a log line
      }
    });
  });
}

/**
 * Starts the service against the given stores (no `databaseUrl`: its embedded PostgreSQL;
 * `redisUrl` may be "off"); rejects when it does not listen within the bound.
 */
export async function startServiceProcess(options: { databaseUrl?: string; redisUrl: string; token?: string; env?: Record<string, string>; startTimeoutMs?: number; /** In a process group of its own (signal it all with process.kill(-pid), as a terminal's Ctrl-C does). */ detached?: boolean }): Promise<ServiceProcess> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    REDIS_URL: options.redisUrl,
    PORT: "0",
    HOST: "127.0.0.1",
    API_TOKENS: `${options.token ?? SERVICE_TOKEN}:commands+operator`,
    LOG_LEVEL: "info",
    PROJECTION_WORKERS: "1",
    ...options.env,
  };
  delete env["EVENTSTORE_URL"];
  if (options.databaseUrl === undefined) delete env["DATABASE_URL"];
  else env["DATABASE_URL"] = options.databaseUrl;
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: options.detached ?? false });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const logs: string[] = [];
  const keep = (line: string): void => {
    logs.push(line);
    if (logs.length > 200) logs.shift();
  };
  child.stderr!.on("data", (chunk: Buffer) => keep(chunk.toString()));
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no "service listening" within ${timeoutMs} ms:\n${logs.join("\n")}`));
    }, timeoutMs);
    void listeningUrl(child.stdout!, keep).then((found) => {
      clearTimeout(timer);
      resolve(found);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${code} before listening:\n${logs.join("\n")}`));
    });
  });
  return {
    url,
    child,
    logs,
    exited,
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
