/**
 * The service started through a wrapper (npm, a shell) whose process is killed with SIGKILL:
 * the wrapper cannot pass the signal on, so the service itself notices that its parent is
 * gone and stops, letting go of its port (a restart would find it taken otherwise).
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../testing/db.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!databaseAvailable)(`service under a killed wrapper (${databaseAvailable ? "PostgreSQL" : databaseSkipReason})`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ poolSize: 2 });
  });
  afterAll(async () => db?.drop());

  it("stops by itself when the process that started it is SIGKILLed", { timeout: 60_000 }, async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: db.url, REDIS_URL: "off", PORT: "0", HOST: "127.0.0.1", API_TOKENS: "orphan-token:commands+operator", LOG_LEVEL: "info", PROJECTION_WORKERS: "1" };
    delete env["EVENTSTORE_URL"];
    // `; :` keeps the shell as the parent (no exec of the last command); it prints the child's pid.
    const wrapper = spawn("sh", ["-c", `${JSON.stringify(process.execPath)} --import tsx src/main.ts & echo "pid $!"; wait; :`], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let child = 0;
    let url = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the service did not start")), 50_000);
      createInterface({ input: wrapper.stdout! }).on("line", (line) => {
        if (line.startsWith("pid ")) child = Number(line.slice(4));
        try {
          const entry = JSON.parse(line) as { msg?: string; url?: string };
          if (entry.msg === "service listening" && entry.url) {
            url = entry.url;
            clearTimeout(timer);
            resolve();
          }
        } catch {
          // not a log line
        }
      });
    });
    expect(child).toBeGreaterThan(0);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    wrapper.kill("SIGKILL");
    const deadline = Date.now() + 15_000;
    while (alive(child) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const stillAlive = alive(child);
    if (stillAlive) process.kill(child, "SIGKILL");
    expect(stillAlive).toBe(false);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
