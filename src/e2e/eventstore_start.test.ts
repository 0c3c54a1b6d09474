/**
 * With EVENTSTORE_URL set, the service wires the EventStoreDB store; started against an
 * address where nothing listens it fails fast with one clear line instead of hanging.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../db/embedded.ts";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../testing/db.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

describe.skipIf(!databaseAvailable)(`start with EVENTSTORE_URL (${databaseAvailable ? "PostgreSQL for read models" : databaseSkipReason})`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
  });
  afterAll(async () => db?.drop());

  it("exits with one clear line when nothing listens at EVENTSTORE_URL", { timeout: 60_000 }, async () => {
    const port = await freePort();
    const env = { ...process.env, DATABASE_URL: db.url, EVENTSTORE_URL: `esdb://127.0.0.1:${port}?tls=false`, REDIS_URL: "off", PORT: "0", LOG_LEVEL: "info" };
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(1);
    const fatal = output.split("\n").filter((line) => line.includes('"level":60'));
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toContain(`EventStoreDB at esdb://127.0.0.1:${port} did not answer`);
  });
});
