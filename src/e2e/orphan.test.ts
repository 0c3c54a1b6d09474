/**
 * The service started through a wrapper (npm, npx, tsx's CLI) whose process is killed with
 * SIGKILL: the wrapper cannot pass the signal on, so the service itself notices that its
 * parent is gone and stops, letting go of its port (a restart would find it taken otherwise).
 * Under another parent (a shell, a launcher) it keeps serving when that parent goes away.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../testing/db.ts";
import { alive } from "../runtime/alive.ts";
import { listeningUrl } from "../testing/service_process.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));


describe.skipIf(!databaseAvailable)(`service under a killed wrapper (${databaseAvailable ? "PostgreSQL" : databaseSkipReason})`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ poolSize: 2 });
  });
  afterAll(async () => db?.drop());

  /** Starts the service under a wrapper; resolves with the wrapper, the server's pid and its URL once listening. */
  async function startUnder(command: string, args: string[]): Promise<{ wrapper: ChildProcess; server: number; url: string }> {
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: db.url, REDIS_URL: "off", PORT: "0", HOST: "127.0.0.1", API_TOKENS: "orphan-token:commands+operator", LOG_LEVEL: "info", PROJECTION_WORKERS: "1" };
    delete env["EVENTSTORE_URL"];
    const wrapper = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let timer: NodeJS.Timeout | undefined;
    const url = await Promise.race([
      listeningUrl(wrapper.stdout!),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("the service did not start")), 50_000))),
    ]).finally(() => clearTimeout(timer));
    const children = execFileSync("pgrep", ["-P", String(wrapper.pid)]).toString().trim().split("\n").map(Number);
    expect(children).toHaveLength(1);
    return { wrapper, server: children[0]!, url };
  }

  it("stops by itself when the tsx wrapper that started it is SIGKILLed", { timeout: 60_000 }, async () => {
    const tsxCli = join(ROOT, "node_modules/tsx/dist/cli.mjs");
    const { wrapper, server, url } = await startUnder(process.execPath, [tsxCli, "src/main.ts"]);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    wrapper.kill("SIGKILL");
    const deadline = Date.now() + 15_000;
    while (alive(server) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const stillAlive = alive(server);
    if (stillAlive) process.kill(server, "SIGKILL");
    expect(stillAlive).toBe(false);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it("keeps serving when a shell that started it goes away (a launcher may leave it running on purpose)", { timeout: 60_000 }, async () => {
    // `; :` keeps the shell as the parent (no exec of the last command).
    const { wrapper, server, url } = await startUnder("sh", ["-c", `${JSON.stringify(process.execPath)} --import tsx src/main.ts; :`]);
    try {
      wrapper.kill("SIGKILL");
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(alive(server)).toBe(true);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      process.kill(server, "SIGTERM");
      const deadline = Date.now() + 15_000;
      while (alive(server) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      if (alive(server)) process.kill(server, "SIGKILL");
    }
  });
});
