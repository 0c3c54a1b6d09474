import { Writable } from "node:stream";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotFoundError } from "../../shared/errors.ts";
import { viewKey } from "../../shared/read_models.ts";
import { beginReplay, runReplay, type ReplayOptions } from "./replay.ts";
import { ReplayRunningError } from "./replay_lock.ts";
import { startProjections, type Projections } from "./start.ts";
import type { ProjectionStatusItem } from "./status.ts";
import { effectsModule, effectsProjection, sideEffectCalls } from "./testing/effects_projection.ts";
import { appendCounts, dumpTables, foldInMemory, makeCounts, readEverything, readProjected, waitUntil } from "./testing/fixtures.ts";
import { openRunnerStack, runnerStackSkipReason, type RunnerStack } from "./testing/stack.ts";
import { startRunnerProcess, type RunnerProcess } from "./testing/runner_process.ts";

const skip = runnerStackSkipReason;
const NAME = "test_counter";

describe.skipIf(skip !== null)(`blue/green replay${skip ? ` (${skip})` : ""}`, () => {
  let stack: RunnerStack | undefined;
  let db: RunnerStack["db"];
  let store: RunnerStack["store"];
  let redisHandle: RunnerStack["redisHandle"];
  let projections: Projections;
  let standby: RunnerProcess;
  const logger = pino({ level: process.env["TEST_LOG_LEVEL"] ?? "silent" });

  const replayOptions = (extra: Partial<ReplayOptions> = {}): ReplayOptions => ({
    ...stack!.connections(),
    projections: [effectsModule],
    name: NAME,
    workers: 1,
    batchSize: 2000,
    logger,
    dropOld: "leave",
    ...extra,
  });

  beforeAll(async () => {
    stack = await openRunnerStack();
    ({ db, store, redisHandle } = stack);
    projections = await startProjections({
      ...stack!.connections(),
      projections: [effectsModule],
      workers: 2,
      batchSize: 500,
      logger,
      replayGraceMs: 1500,
      janitorMs: 200,
    });
    // A second process (standby: this one leads) that must learn of the switch by NOTIFY.
    standby = startRunnerProcess({ databaseUrl: db.url, redisUrl: redisHandle.url, redisKeyPrefix: redisHandle.prefix, modules: [effectsModule] });
  });

  afterAll(async () => {
    await standby?.kill("SIGTERM");
    await projections?.stop();
    await stack?.close();
  });

  it("replays into v2 while readers read through ActiveVersions without a failure, switches, follows live and drops v1", { timeout: 30_000 }, async () => {
    const first = await appendCounts(store, makeCounts(6000, { keys: 300, groups: 7 }), 200);
    expect(await projections.progress.waitFor([NAME], first, 20_000)).toBe(true);
    // v1 was built over a backlog, so its views were written once from the rows after it caught up.
    await waitUntil(async () => (await redisHandle.redis.zscore(viewKey(NAME, 1, "groups"), "g1")) !== null, 10_000, "v1 views restored");
    await waitUntil(() => standby.logs.some((line) => line["msg"] === "projection runner started"), 15_000, "standby started");

    let reads = 0;
    const failures: string[] = [];
    let reading = true;
    const reader = (async () => {
      while (reading) {
        const version = projections.activeVersions.get(NAME);
        try {
          const row = await db.pool.query(`SELECT total FROM groups_v${version} WHERE key = 'g1'`);
          const score = await redisHandle.redis.zscore(viewKey(NAME, version, "groups"), "g1");
          if (row.rowCount !== 1) failures.push(`v${version}: row missing`);
          if (score === null) failures.push(`v${version}: view missing`);
        } catch (error) {
          failures.push(`v${version}: ${(error as Error).message}`);
        }
        reads++;
      }
    })();

    const statuses: ProjectionStatusItem[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        statuses.push((await projections.status()).items[0]!);
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
    })();
    const live = appendCounts(store, makeCounts(1000, { keys: 300, groups: 7, seed: 9 }), 50);
    let printed = "";
    const out = new Writable({ write: (chunk: Buffer, _encoding, callback) => ((printed += chunk.toString()), callback()) });
    const result = await runReplay(replayOptions({ out, graceMs: 1500 })).finally(() => {
      watching = false;
      setTimeout(() => (reading = false), 20_000).unref();
    });
    await watcher;
    await live;

    expect(result).toMatchObject({ version: 2, previous: 1, resumedFrom: 0 });
    expect(projections.activeVersions.get(NAME)).toBe(2);
    expect(printed).toContain("replay test_counter v2");
    await waitUntil(() => standby.logs.some((line) => line["msg"] === "serving version switched" && line["version"] === 2), 10_000, "NOTIFY in the second process");

    const rebuilding = statuses.filter((item) => item.status === "rebuilding");
    expect(rebuilding.length).toBeGreaterThan(0);
    const progress = statuses.flatMap((item) => (item.rebuild ? [item.rebuild.progress] : []));
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(rebuilding[0]!.rebuild).toMatchObject({ version: 2 });

    await waitUntil(async () => (await db.pool.query("SELECT to_regclass('counters_v1') IS NULL AS gone")).rows[0].gone === true, 10_000, "v1 dropped");
    expect(await redisHandle.redis.exists(viewKey(NAME, 1, "groups"))).toBe(0);
    const last = await appendCounts(store, makeCounts(300, { keys: 300, groups: 7, seed: 10 }), 50);
    expect(await projections.progress.waitFor([NAME], last, 20_000)).toBe(true);
    reading = false;
    await reader;

    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(10);
    const events = await readEverything(store, db.pool);
    const expected = foldInMemory(effectsProjection, events);
    expect(await readProjected(db.pool, effectsProjection, 2)).toEqual(expected);
    const [key, row] = Object.entries(expected["counters"]!)[0]!;
    expect((await redisHandle.redis.getBuffer(viewKey(NAME, 2, "counter", key)))?.equals(row["body"] as Buffer)).toBe(true);
    // Side effects: once per event, from live mode only; the replay added none.
    expect(sideEffectCalls).toHaveLength(events.length);
    expect(new Set(sideEffectCalls).size).toBe(events.length);
    const items = (await projections.status()).items;
    expect(items[0]).toMatchObject({ version: 2, status: "running", rebuild: null });
  });

  it("refuses a second concurrent replay; two replays of the same events are byte-identical", { timeout: 30_000 }, async () => {
    await expect(projections.startReplay("no_such_projection")).rejects.toBeInstanceOf(NotFoundError);
    const calls = sideEffectCalls.length;
    const handle = await beginReplay(replayOptions({ graceMs: 60_000 }));
    expect(handle.version).toBe(3);
    await expect(beginReplay(replayOptions())).rejects.toBeInstanceOf(ReplayRunningError);
    await expect(projections.startReplay(NAME)).rejects.toBeInstanceOf(ReplayRunningError);
    const result = await handle.done;
    expect(result).toMatchObject({ version: 3, previous: 2 });
    expect(sideEffectCalls.length).toBe(calls);

    expect(await dumpTables(db.pool, effectsProjection, 3)).toEqual(await dumpTables(db.pool, effectsProjection, 2));
    const counters = Object.keys((await readProjected(db.pool, effectsProjection, 3))["counters"]!);
    for (const key of counters) {
      const [a, b] = await Promise.all([2, 3].map((v) => redisHandle.redis.getBuffer(viewKey(NAME, v, "counter", key))));
      expect(a?.equals(b!)).toBe(true);
    }
    const groups = await Promise.all([2, 3].map((v) => redisHandle.redis.zrange(viewKey(NAME, v, "groups"), 0, -1, "WITHSCORES")));
    expect(groups[1]).toEqual(groups[0]);
    expect(groups[0]!.length).toBeGreaterThan(0);
  });

  it("resumes a replay started in the service by itself when its connections are cut (a store restart, terminated backends)", { timeout: 60_000 }, async () => {
    const before = (await projections.status()).items[0]!.version;
    const accepted = await projections.startReplay(NAME);
    expect(accepted.version).toBeGreaterThan(before);
    // Cut every connection of the replay and of the projection threads, once it is under way.
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      await waitUntil(async () => (await projections.status()).items[0]?.rebuild !== null, 10_000, "the replay under way");
      const cut = await admin.query<{ n: string }>(
        `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND (application_name LIKE 'projection-replay-%' OR application_name = 'projection-worker')`,
      );
      expect(Number(cut.rows[0]!.n)).toBeGreaterThan(0);
    } finally {
      await admin.end();
    }
    await waitUntil(async () => {
      const item = (await projections.status()).items[0];
      return item?.version === accepted.version && item.rebuild === null;
    }, 45_000, "the replay resumed, finished and switched");
    expect(await dumpTables(db.pool, effectsProjection, accepted.version)).toEqual(await dumpTables(db.pool, effectsProjection, before));
  });
});
