/**
 * `npm start` with no DATABASE_URL: the service starts an embedded PostgreSQL under
 * DATA_DIR, accepts a command, shuts down cleanly on SIGTERM, and a second start reuses
 * the data. Runs the real entry point in a child process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const TOKEN = "embedded-test-token";

interface Running {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
}

/** Starts src/main.ts and resolves with its URL once it logs "service listening". */
async function start(dataDir: string): Promise<Running> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: "0", REDIS_URL: "off", API_TOKENS: `${TOKEN}:commands+operator`, LOG_LEVEL: "info", PROJECTION_WORKERS: "1" };
  delete env["DATABASE_URL"];
  delete env["EVENTSTORE_URL"];
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const lines: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "service listening" within 90 s:\n${lines.join("\n")}`)), 90_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      lines.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === "service listening" && entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      } catch {
        // not a log line
      }
    });
    child.stderr!.on("data", (chunk: Buffer) => lines.push(chunk.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening:\n${lines.join("\n")}`));
    });
  });
  return { child, url, exited };
}

function createProduct(url: string): Promise<Response> {
  return fetch(`${url}/v1/products`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ sku: "EMBEDDED-1", name: "Embedded", category: "boot", priceCents: 1 }),
  });
}

describe("npm start without DATABASE_URL (embedded PostgreSQL)", () => {
  let dataDir = "";
  afterAll(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("comes up, accepts a command, stops cleanly, and reuses its data on the next start", { timeout: 240_000 }, async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), "cqrs-embedded-"));
    const first = await start(dataDir);
    try {
      const created = await createProduct(first.url);
      expect(created.status).toBe(201);
    } finally {
      first.child.kill("SIGTERM");
    }
    expect(await first.exited).toBe(0);

    const second = await start(dataDir);
    try {
      const again = await createProduct(second.url);
      expect(again.status).toBe(409); // the sku from the first run is still there
      const ready = await fetch(`${second.url}/readyz`);
      expect(ready.status).toBe(200);
    } finally {
      second.child.kill("SIGTERM");
    }
    expect(await second.exited).toBe(0);
  });
});
