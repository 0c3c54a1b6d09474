/**
 * The service under test: either an external one (`--url`, assumed seeded with the same
 * size and seed) or a fresh database seeded here and the service started as a child
 * process (bench/serve.ts), so its peak RSS is measurable.
 */
import { execFile } from "node:child_process";
import pg from "pg";
import { Redis } from "ioredis";
import { migrate } from "../../src/db/migrate.ts";
import { createPostgresStore } from "../../src/event_store/postgres.ts";
import { unlinkMatching } from "../../src/projections/runner/views.ts";
import { seed, seedSizeForEvents, type SeedSize } from "../../src/seed/seed.ts";
import { startChild } from "./child.ts";
import { createBenchDatabase } from "./database.ts";
import { cpuSeconds, currentRss } from "./rss.ts";
import { assertLoopback } from "./http_load.ts";
import type { BenchOptions } from "./types.ts";

export interface Target {
  url: string;
  /** Bearer token with scopes commands+operator (null for an external target given no --token). */
  token: string | null;
  size: Required<SeedSize>;
  /** Events appended by the seeder (estimate for an external target). */
  seededEvents: number;
  seedSeconds: number | null;
  /** Date.now() when the service announced it was listening. */
  startedAtMs: number;
  /** Date.now() just before the service process was spawned. */
  spawnedAtMs: number;
  /** Date.now() in the service when it was listening (its `{"url"}` line, printed right after "service listening"). */
  listeningAtMs: number;
  databaseUrl: string | null;
  peakRss(): number | null;
  /** Current RSS (VmRSS) of the service child; null for an external target. */
  rss(): number | null;
  /** CPU seconds the service child has used so far (all its threads); null for an external target. */
  cpuSeconds(): number | null;
  /** The service's REDIS_KEY_PREFIX (unique per run, its keys deleted on stop); "" for an external target. */
  redisKeyPrefix: string;
  stop(): Promise<void>;
}

/** Seeds a fresh database with about `events` events and starts the service on it (or wraps --url). */
export async function startTarget(options: BenchOptions, events = options.events): Promise<Target> {
  const size = { ...seedSizeForEvents(events), ...(options.products === null ? {} : { products: options.products }) };
  if (options.url) {
    assertLoopback(options.url);
    return { url: options.url, token: options.token, size, seededEvents: events, seedSeconds: null, startedAtMs: Date.now(), spawnedAtMs: Date.now(), listeningAtMs: Date.now(), databaseUrl: null, peakRss: () => null, rss: () => null, cpuSeconds: () => null, redisKeyPrefix: "", stop: async () => undefined };
  }
  const db = await createBenchDatabase(options.databaseUrl, "service");
  try {
    const pool = db.pool(16, { synchronousCommit: false });
    await migrate(pool);
    const store = createPostgresStore(pool, { connectionString: db.url });
    const begin = performance.now();
    let lastTenth = -1;
    const seeded = await seed(store, {
      ...size,
      onProgress: (done, total) => {
        const tenth = Math.floor((done / total) * 10);
        if (tenth !== lastTenth) options.log(`seeding ${done}/${total} events`);
        lastTenth = tenth;
      },
    });
    const seedSeconds = (performance.now() - begin) / 1000;
    options.log(`seeded ${seeded.events} events in ${seedSeconds.toFixed(1)} s`);
    // A store at rest, as a service meets its history: a log that has just been loaded is
    // vacuumed and analyzed by autovacuum and its pages written out by the checkpointer over
    // the next minute, which raced the measurements that start next (a 1M-event catch-up took
    // 53-62 s on a fresh load against 45 s on a settled copy of the same database).
    const settling = performance.now();
    await pool.query("VACUUM (ANALYZE) events");
    await writeOut(pool);
    options.log(`settled the store (VACUUM ANALYZE, CHECKPOINT, sync) in ${((performance.now() - settling) / 1000).toFixed(1)} s`);
    await store.close();
    await pool.end();
    const token = `bench-${crypto.randomUUID().replaceAll("-", "")}`;
    // Its own Redis key space: the views of a run (millions of keys at 1M events) are deleted
    // when it stops, instead of piling up in the shared Redis and slowing every key scan.
    const redisKeyPrefix = `bench-${crypto.randomUUID().slice(0, 8)}:`;
    const spawnedAtMs = Date.now();
    const child = await startChild<{ url: string; listeningAtMs?: number }>("bench/serve.ts", {
      env: { DATABASE_URL: db.url, PORT: "0", HOST: "127.0.0.1", API_TOKENS: `${token}:commands+operator`, LOG_LEVEL: process.env["LOG_LEVEL"] ?? "warn", REDIS_KEY_PREFIX: redisKeyPrefix },
      log: options.log,
    });
    return {
      url: child.hello.url.replace(/\/$/, ""), token, size, seededEvents: seeded.events, seedSeconds, startedAtMs: Date.now(), spawnedAtMs, listeningAtMs: child.hello.listeningAtMs ?? Date.now(), databaseUrl: db.url,
      peakRss: child.peakRss,
      rss: () => currentRss(child.pid),
      cpuSeconds: () => cpuSeconds(child.pid),
      redisKeyPrefix,
      async stop() {
        await child.stop();
        await db.drop();
        await deleteRedisKeys(redisKeyPrefix);
      },
    };
  } catch (error) {
    await db.drop();
    throw error;
  }
}

/**
 * Writes out what the last bulk writes left dirty: a CHECKPOINT (PostgreSQL's buffers to the
 * OS; skipped without the privilege) and then sync(1) (the OS's dirty pages to disk). Without
 * it, Linux writes a bulk load's pages back ~30 s later (vm.dirty_expire_centisecs) and a
 * measurement running then has its commits wait for their WAL flush behind that write-back.
 */
export async function writeOut(pool: pg.Pool | pg.Client): Promise<void> {
  await pool.query("CHECKPOINT").catch(() => undefined);
  await new Promise<void>((resolve) => execFile("sync", () => resolve()));
}

/**
 * A service's read side at rest after its catch-up (or a replay: `after` names it), as the
 * store is after seeding: the pages those bulk writes left dirty written out before the
 * next measurement starts (the time it took is logged).
 */
export async function settleReadSide(target: Target, log: (line: string) => void, after = "the catch-up"): Promise<void> {
  if (!target.databaseUrl) return;
  const begin = performance.now();
  const client = new pg.Client({ connectionString: target.databaseUrl });
  await client.connect();
  try {
    await writeOut(client);
  } finally {
    await client.end().catch(() => undefined);
  }
  const seconds = (performance.now() - begin) / 1000;
  log(`settled the read side after ${after} (CHECKPOINT, sync) in ${seconds.toFixed(1)} s`);
}

/** Deletes every key with the prefix from the service's Redis (REDIS_URL, else the local default); best effort. */
async function deleteRedisKeys(prefix: string): Promise<void> {
  const url = process.env["REDIS_URL"];
  if (url === "off") return;
  const redis = new Redis(url ?? "redis://127.0.0.1:6379", { keyPrefix: prefix, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 1000 });
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    await unlinkMatching(redis, ["*"]);
  } catch {
    // No Redis (the service ran without views) or it went away: nothing to clean.
  } finally {
    redis.disconnect();
  }
}

export interface ProjectionStatus {
  name: string;
  status: string;
  lagEvents: number;
}

/**
 * True when /metrics reports no projection whose Redis views are incomplete: after a fresh
 * catch-up the views are restored from the rows, and a measurement must not overlap that.
 */
async function viewsReady(target: Target): Promise<boolean> {
  const response = await fetch(`${target.url}/metrics`, { headers: { authorization: `Bearer ${target.token}` }, signal: AbortSignal.timeout(5000) }).catch(() => null);
  if (!response?.ok) return false;
  const lines = (await response.text()).split("\n").filter((line) => line.startsWith("projection_views_ready{"));
  return lines.every((line) => line.endsWith(" 1"));
}

/** Polls GET /v1/projections (every pollMs) until every projection is running with lag 0 and its Redis views are complete; resolves with the seconds waited and Date.now() when seen. Bounded by timeoutS. */
export async function waitForProjections(target: Target, timeoutS: number, pollMs = 100): Promise<{ seconds: number; items: ProjectionStatus[]; caughtUpAtMs: number }> {
  if (!target.token) throw new Error("waiting for projections needs an operator token (--token)");
  const begin = performance.now();
  let items: ProjectionStatus[] = [];
  while (performance.now() - begin < timeoutS * 1000) {
    const response = await fetch(`${target.url}/v1/projections`, { headers: { authorization: `Bearer ${target.token}` }, signal: AbortSignal.timeout(5000) }).catch(() => null);
    if (response?.ok) {
      items = ((await response.json()) as { items: ProjectionStatus[] }).items;
      if (items.length > 0 && items.every((item) => item.lagEvents === 0 && item.status === "running") && (await viewsReady(target))) {
        return { seconds: (performance.now() - begin) / 1000, items, caughtUpAtMs: Date.now() };
      }
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  throw new Error(`projections not caught up within ${timeoutS} s: ${JSON.stringify(items)}`);
}

let shared: Promise<Target> | null = null;

/** One seeded, caught-up service shared by the read and mixed scenarios of a run (started on first use). */
export async function sharedTarget(options: BenchOptions): Promise<Target> {
  shared ??= (async () => {
    const target = await startTarget(options);
    if (target.token) {
      await waitForProjections(target, options.smoke ? 120 : 1800).catch(async (error: unknown) => { await target.stop(); throw error; });
      await settleReadSide(target, options.log);
    }
    return target;
  })();
  try {
    return await shared;
  } catch (error) {
    shared = null;
    throw error;
  }
}

/** Stops the shared service, if one was started. */
export async function stopSharedTarget(): Promise<void> {
  const current = shared;
  shared = null;
  if (current) await (await current.catch(() => null))?.stop();
}
