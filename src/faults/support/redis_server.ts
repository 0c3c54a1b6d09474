/**
 * A private redis-server for fault tests on a free loopback port, with no persistence:
 * stopping it loses every key, as a real Redis crash without persistence would; unless a test
 * saved a snapshot (SAVE), which the next start loads, as a Redis with RDB persistence would.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { freePort } from "../../db/embedded.ts";

export interface RedisServer {
  port: number;
  url: string;
  /** Kills the server (SIGKILL: its data is gone). */
  stop(): Promise<void>;
  /** Stops the server for good and removes its directory (and any snapshot in it). */
  close(): Promise<void>;
  /** Starts a fresh server on the same port: empty, or with the last snapshot a test saved (SAVE). */
  start(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open, nothing answers. */
  pause(): void;
  /** Lets a paused server go on (SIGCONT), its data intact. */
  resume(): void;
  /** A plain client (no key prefix) for inspecting keys; the caller disconnects it. */
  client(): Redis;
}

/** Why redis-server cannot run here, or null when it can. */
export function redisServerSkipReason(): string | null {
  const probe = spawnSync("redis-server", ["--version"], { stdio: "ignore" });
  return probe.status === 0 ? null : "needs redis-server on PATH; none found";
}

async function waitForPing(url: string, deadlineMs: number): Promise<void> {
  const deadline = performance.now() + deadlineMs;
  for (;;) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
    client.on("error", () => undefined);
    try {
      await client.connect();
      if ((await client.ping()) === "PONG") return;
    } catch {
      if (performance.now() > deadline) throw new Error(`redis-server at ${url} did not answer`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      client.disconnect();
    }
  }
}

/** Starts a private redis-server; resolves once it answers PING. */
export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  // Its own directory: a snapshot a test saves is loaded by this server's next start only.
  const dir = mkdtempSync(path.join(tmpdir(), "fault-redis-"));
  const launch = async (): Promise<void> => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdio: "ignore" });
    await waitForPing(url, 10_000);
  };
  const stop = async (): Promise<void> => {
    const running = child as ChildProcess | null;
    child = null;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill("SIGKILL");
    await exited;
  };
  await launch();
  return {
    port,
    url,
    stop,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    start: launch,
    pause() {
      (child as ChildProcess | null)?.kill("SIGSTOP");
    },
    resume() {
      (child as ChildProcess | null)?.kill("SIGCONT");
    },
    client: () => new Redis(url, { maxRetriesPerRequest: 1 }),
  };
}
