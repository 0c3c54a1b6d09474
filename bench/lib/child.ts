/** Starts a TypeScript entry point as a child process that announces itself with one JSON line on stdout. */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { peakRss } from "./rss.ts";

export interface ChildHandle<T> {
  pid: number;
  /** The first JSON line the child printed. */
  hello: T;
  /** Further JSON lines, as they arrive. */
  messages: AsyncIterable<Record<string, unknown>>;
  peakRss(): number | null;
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The node flags `npm start` and `npm run cli` give the service and the CLI (package.json): V8's helper threads, V8_POOL_SIZE or 2. */
export const SERVICE_NODE_ARGS: readonly string[] = [`--v8-pool-size=${process.env["V8_POOL_SIZE"] || "2"}`];

/** Extra node flags for the children, e.g. BENCH_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (not allowed in NODE_OPTIONS). */
const CHILD_NODE_ARGS = [...SERVICE_NODE_ARGS, ...(process.env["BENCH_CHILD_NODE_ARGS"] ?? "").split(/\s+/).filter((arg) => arg !== "")];

/** Spawns `node --import tsx <entry>` with env; resolves once it prints a JSON line (rejects on exit or after timeoutMs). */
export async function startChild<T>(entry: string, options: { env?: Record<string, string>; args?: string[]; timeoutMs?: number; log?: (line: string) => void } = {}): Promise<ChildHandle<T>> {
  const child: ChildProcess = spawn(process.execPath, [...CHILD_NODE_ARGS, "--import", "tsx", entry, ...(options.args ?? [])], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const queue: Record<string, unknown>[] = [];
  let wake: (() => void) | null = null;
  let exited = false;
  const stderr: string[] = [];
  child.stderr!.on("data", (chunk: Buffer) => {
    const text = chunk.toString();
    stderr.push(text);
    if (stderr.length > 50) stderr.shift();
    options.log?.(text.trimEnd());
  });
  const lines = createInterface({ input: child.stdout! });
  lines.on("line", (line) => {
    if (!line.startsWith("{")) return;
    try {
      queue.push(JSON.parse(line) as Record<string, unknown>);
      wake?.();
    } catch {
      // not ours: ignore non-JSON output
    }
  });
  const exit = new Promise<void>((resolve) => child.once("exit", () => { exited = true; wake?.(); resolve(); }));
  async function* messages(): AsyncGenerator<Record<string, unknown>> {
    for (;;) {
      while (queue.length > 0) yield queue.shift()!;
      if (exited) return;
      await new Promise<void>((resolve) => { wake = resolve; });
      wake = null;
    }
  }
  const iterator = messages();
  const timeoutMs = options.timeoutMs ?? 120_000;
  const first = await Promise.race([
    iterator.next(),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${entry} did not start within ${timeoutMs} ms`)), timeoutMs).unref()),
  ]).catch((error: unknown) => { child.kill("SIGKILL"); throw error; });
  if (first.done) throw new Error(`${entry} exited before it started: ${stderr.join("").slice(-2000)}`);
  const pid = child.pid!;
  return {
    pid,
    hello: first.value as T,
    messages: { [Symbol.asyncIterator]: () => iterator },
    peakRss: () => peakRss(pid),
    async stop() {
      if (exited) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exit;
      clearTimeout(timer);
    },
  };
}
