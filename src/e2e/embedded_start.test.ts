/**
 * `npm start` with no DATABASE_URL: the service starts an embedded PostgreSQL under
 * DATA_DIR, accepts a command, shuts down cleanly on SIGTERM, and a second start reuses
 * the data. Runs the real entry point in a child process.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startServiceProcess, type ServiceProcess } from "../testing/service_process.ts";

const TOKEN = "embedded-test-token";

/** Starts src/main.ts on an embedded PostgreSQL under dataDir, without Redis. */
function start(dataDir: string): Promise<ServiceProcess> {
  return startServiceProcess({ redisUrl: "off", token: TOKEN, env: { DATA_DIR: dataDir }, startTimeoutMs: 90_000 });
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
