import { existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePayload } from "../../event_store/codec.ts";
import { encodePosition, START, type Position } from "../../shared/position.ts";
import { viewKey } from "../../shared/read_models.ts";
import { applyPartition } from "./apply_partition.ts";
import { partitionBatch, partitionGroups } from "./partition.ts";
import { ensureProjectionSchema } from "./schema.ts";
import { startProjections, type Projections } from "./start.ts";
import { sentinelKey } from "../../shared/read_models.ts";
import { RESTORE_PAGE_ROWS, RestoreInterruptedError, restoreViews } from "./views_restore.ts";
import { counterModule, counterProjection } from "./testing/counter_projection.ts";
import { appendCounts, foldInMemory, makeCounts, readEverything, readProjected, waitUntil } from "./testing/fixtures.ts";
import { openRunnerStack, runnerStackSkipReason, type RunnerStack } from "./testing/stack.ts";

const skip = runnerStackSkipReason;

/**
 * Runs a restore by hand while the suite's runner leads: its watchdog may see the restore's
 * token instead of "1" and start its own, which interrupts this one; then try again.
 */
async function restoreBesideWatchdog<T>(restore: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await restore();
    } catch (error) {
      if (!(error instanceof RestoreInterruptedError) || attempt >= 5) throw error;
    }
  }
}

/**
 * Deletes every key under the stack's Redis prefix at once, as a flush would (for this suite
 * only): found first, then deleted in one transaction. Deleting as the scan went let the
 * watchdog restore the views between two steps (the sentinel gone first), and the steps after
 * deleted what it had restored: on a Redis holding many other keys the scan is long enough.
 */
async function deleteAllKeys(redisHandle: RunnerStack["redisHandle"]): Promise<void> {
  const plain = redisHandle.redis.duplicate({ keyPrefix: "" });
  try {
    const found = new Set<string>();
    let cursor = "0";
    do {
      const [next, keys] = await plain.scan(cursor, "MATCH", `${redisHandle.prefix}*`, "COUNT", 1000);
      cursor = next;
      for (const key of keys) found.add(key);
    } while (cursor !== "0");
    const keys = [...found];
    const flush = plain.multi();
    for (let i = 0; i < keys.length; i += 1000) flush.del(...keys.slice(i, i + 1000));
    if (keys.length > 0) await flush.exec();
  } finally {
    plain.disconnect();
  }
}

describe.skipIf(skip !== null)(`projection runner${skip ? ` (${skip})` : ""}`, () => {
  let stack: RunnerStack | undefined;
  let db: RunnerStack["db"];
  let store: RunnerStack["store"];
  let redisHandle: RunnerStack["redisHandle"];
  let projections: Projections;
  // Messages kept for the assertions (printed too when TEST_LOG_LEVEL is set).
  const messages: string[] = [];
  const logger = pino(
    { level: process.env["TEST_LOG_LEVEL"] ?? "info" },
    {
      write: (line: string) => {
        messages.push(line);
        if (process.env["TEST_LOG_LEVEL"]) process.stdout.write(line);
      },
    },
  );
  const staleKey = viewKey("test_counter", 1, "stale-from-an-earlier-database");

  beforeAll(async () => {
    stack = await openRunnerStack();
    ({ db, store, redisHandle } = stack);
    await redisHandle.redis.set(staleKey, "stale");
    projections = await startProjections({
      ...stack!.connections(),
      projections: [counterModule],
      workers: 2,
      batchSize: 500,
      logger,
    });
  });

  afterAll(async () => {
    await projections?.stop();
    await stack?.close();
  });

  async function caughtUp(position: Position): Promise<void> {
    expect(await projections.progress.waitFor(["test_counter"], position, 20_000)).toBe(true);
  }

  it("starts a version that applied nothing on a cleared key space, marked complete with no restore of its zero rows", async () => {
    await waitUntil(async () => (await redisHandle.redis.get(sentinelKey("test_counter", 1))) === "1", 20_000, "views complete");
    expect(await redisHandle.redis.exists(staleKey)).toBe(0);
    expect(messages.filter((line) => line.includes("restored Redis views from rows"))).toEqual([]);
  });

  it("projects events into rows and Redis views, equal to a one-pass fold", async () => {
    await caughtUp(await appendCounts(store, makeCounts(3000, { keys: 200, groups: 7 })));
    const events = await readEverything(store, db.pool);
    const expected = foldInMemory(counterProjection, events);
    expect(await readProjected(db.pool, counterProjection)).toEqual(expected);
    const [key, row] = Object.entries(expected["counters"]!)[0]!;
    // Over a backlog a fresh version defers its views and writes them once, right after it caught up.
    await waitUntil(async () => (await redisHandle.redis.getBuffer(viewKey("test_counter", 1, "counter", key)))?.equals(row["body"] as Buffer) === true, 10_000, "views written");
    const group = Object.entries(expected["groups"]!)[0]!;
    // (A restore after a Redis flush by another suite sharing this Redis may still be writing the sorted set.)
    await waitUntil(async () => Number(await redisHandle.redis.zscore(viewKey("test_counter", 1, "groups"), group[0])) === group[1]["total"], 10_000, "group view");
    expect(Number(await redisHandle.redis.zscore(viewKey("test_counter", 1, "groups"), group[0]))).toBe(group[1]["total"]);
  });

  it("changes nothing when the same batch is applied twice", async () => {
    const events = (await readEverything(store, db.pool)).slice(-400);
    const through = events.at(-1)!.position;
    const before = await readProjected(db.pool, counterProjection);
    for (const [partition, list] of partitionBatch(counterProjection, events)) {
      const outcome = await applyPartition({ pool: db.pool, views: null }, counterProjection, { version: 1, owned: [partition], partitions: 8, through, events: list });
      expect(outcome.applied).toBe(0);
    }
    const all = [...partitionBatch(counterProjection, events).keys()].sort((a, b) => a - b);
    const whole = await applyPartition({ pool: db.pool, views: null }, counterProjection, { version: 1, owned: all, partitions: 8, through, events });
    expect(whole.applied).toBe(0);
    expect(await readProjected(db.pool, counterProjection)).toEqual(before);
  });

  it("misses no event committed late by a transaction held open", async () => {
    let last: Position = START;
    const client = await db.pool.connect();
    try {
      await client.query("BEGIN");
      const metadata = encodePayload({ occurredAt: "2026-02-01T00:00:00.000Z", correlationId: crypto.randomUUID(), causationId: null });
      await client.query("SELECT * FROM append_events($1, 'any', 0, $2::uuid[], $3::text[], $4::bytea[], $5::bytea[], NULL, NULL, NULL, NULL, NULL)", [
        "late-1",
        [crypto.randomUUID()],
        ["Counted"],
        [encodePayload({ key: "late", group: "g-late", amount: 5 })],
        [metadata],
      ]);
      last = await appendCounts(store, [{ key: "after-late", group: "g-late", amount: 1 }]);
      await client.query("COMMIT");
    } finally {
      client.release();
    }
    await caughtUp(last);
    await waitUntil(async () => (await db.pool.query("SELECT 1 FROM counters_v1 WHERE key = 'late'")).rowCount === 1, 15_000, "late event");
    expect(await readProjected(db.pool, counterProjection)).toEqual(foldInMemory(counterProjection, await readEverything(store, db.pool)));
  });

  it("recovers by itself when its loop fails on an error that is not a lost connection", { timeout: 60_000 }, async () => {
    const first = await appendCounts(store, [{ key: "rf", group: "gr", amount: 1 }], 1);
    await caughtUp(first);
    // The log cannot be read for a few seconds: the loop's idle poll (1 s) fails and its run
    // ends with that error. Once the log is back the leader must resume without a restart.
    await db.pool.query("ALTER TABLE events RENAME TO events_away");
    try {
      await new Promise((resolve) => setTimeout(resolve, 3000));
    } finally {
      await db.pool.query("ALTER TABLE events_away RENAME TO events");
    }
    const last = await appendCounts(store, [{ key: "rf", group: "gr", amount: 2 }], 1);
    expect(await projections.progress.waitFor(["test_counter"], last, 30_000)).toBe(true);
    await waitUntil(async () => (await projections.status()).items[0]?.status === "running", 10_000, "running again");
    expect((await readProjected(db.pool, counterProjection))["counters"]!["rf"]!["total"]).toBe(3);
  });

  it("retries a task whose worker thread died under it: nothing lost, nothing parked", { timeout: 30_000 }, async () => {
    const marker = join(tmpdir(), `kills-worker-${crypto.randomUUID()}`);
    writeFileSync(marker, "");
    const last = await appendCounts(store, [
      { key: "kw", group: "gk", amount: 5 },
      { key: "kw", group: "gk", amount: 7, type: "KillsWorker", marker },
      { key: "kw", group: "gk", amount: 11 },
    ], 3);
    await caughtUp(last);
    expect(existsSync(marker)).toBe(false); // a worker thread did exit on it
    const rows = await readProjected(db.pool, counterProjection);
    expect(rows["counters"]!["kw"]!["total"]).toBe(23);
    expect(rows["groups"]!["gk"]!["total"]).toBe(23);
    const { items } = await projections.status();
    expect(items[0]).toMatchObject({ status: "running", lagEvents: 0 });
    expect((await db.pool.query("SELECT count(*)::int AS n FROM projection_parked WHERE projection = 'test_counter' AND event_id IN (SELECT event_id FROM events WHERE type = 'KillsWorker')")).rows[0].n).toBe(0);
  });

  it("parks an event that keeps failing and shows it in status", async () => {
    const last = await appendCounts(store, [
      { key: "p1", group: "gp", amount: 3 },
      { key: "p1", group: "gp", amount: 0, type: "Poisoned" },
      { key: "p1", group: "gp", amount: 4 },
    ], 3);
    await caughtUp(last);
    const rows = await readProjected(db.pool, counterProjection);
    expect(rows["counters"]!["p1"]!["total"]).toBe(7);
    const { items } = await projections.status();
    expect(items).toHaveLength(1);
    const item = items[0]!;
    expect(item).toMatchObject({ name: "test_counter", version: 1, status: "running", lagEvents: 0, parkedEvents: 1, rebuild: null });
    expect(item.position).toBe(encodePosition(last));
    expect(item.headPosition).toBe(item.position);
  });

  it("rebuilds Redis views after their keys are deleted, without a restart", async () => {
    const key = viewKey("test_counter", 1, "counter", "k1");
    // Quiet first: every event applied, and any restore still running from the bulk build finished.
    await caughtUp((await store.headPosition())!);
    await waitUntil(async () => (await redisHandle.redis.get(sentinelKey("test_counter", 1))) === "1", 10_000, "views complete");
    expect(await redisHandle.redis.exists(key)).toBe(1);
    await deleteAllKeys(redisHandle);
    await waitUntil(async () => (await redisHandle.redis.exists(key)) === 1, 10_000, "views restored");
    const expected = foldInMemory(counterProjection, await readEverything(store, db.pool));
    const restored = await redisHandle.redis.getBuffer(key);
    expect(restored?.equals(expected["counters"]!["k1"]!["body"] as Buffer)).toBe(true);
  });

  it("restores views lost one by one while the sentinel stays (keys evicted, or deleted by pattern around a restore)", { timeout: 30_000 }, async () => {
    await caughtUp((await store.headPosition())!);
    await waitUntil(async () => (await redisHandle.redis.get(sentinelKey("test_counter", 1))) === "1", 10_000, "views complete");
    const plain = redisHandle.redis.duplicate({ keyPrefix: "" });
    const sentinel = `${redisHandle.prefix}${sentinelKey("test_counter", 1)}`;
    try {
      // Every view key of the version but the sentinel, which still says complete.
      let cursor = "0";
      const keys: string[] = [];
      do {
        const [next, found] = await plain.scan(cursor, "MATCH", `${redisHandle.prefix}test_counter:v1:*`, "COUNT", 1000);
        cursor = next;
        keys.push(...found);
      } while (cursor !== "0");
      expect(keys.length).toBeGreaterThan(0);
      messages.length = 0;
      for (let i = 0; i < keys.length; i += 500) await plain.del(...keys.slice(i, i + 500));
      expect(await plain.get(sentinel)).toBe("1");
    } finally {
      plain.disconnect();
    }
    const key = viewKey("test_counter", 1, "counter", "k1");
    await waitUntil(async () => (await redisHandle.redis.exists(key)) === 1 && (await redisHandle.redis.get(sentinelKey("test_counter", 1))) === "1", 20_000, "views restored");
    expect(messages.some((line) => line.includes("Redis lost views of rows while its sentinel says complete"))).toBe(true);
    const expected = foldInMemory(counterProjection, await readEverything(store, db.pool));
    const counterKeys = Object.keys(expected["counters"]!);
    const restored = await redisHandle.redis.mgetBuffer(...counterKeys.map((name) => viewKey("test_counter", 1, "counter", name)));
    expect(counterKeys.filter((name, i) => !restored[i]?.equals(expected["counters"]![name]!["body"] as Buffer))).toEqual([]);
  });

  it("restores views page by page while live events keep applying, and ends with every view equal to its row", { timeout: 60_000 }, async () => {
    // Over 2,000 counters (many restore pages of the counters table).
    await caughtUp(await appendCounts(store, makeCounts(5000, { keys: 2500, groups: 11, seed: 3 }), 500));
    await waitUntil(async () => (await redisHandle.redis.get(sentinelKey("test_counter", 1))) === "1", 20_000, "views complete");
    // A restore holds the writers once per page, and releases each hold.
    let holds = 0;
    let released = 0;
    const rows = await restoreBesideWatchdog(() => {
      holds = 0;
      released = 0;
      return restoreViews(db.pool, redisHandle.redis, counterProjection, 1, async () => {
        holds++;
        return () => void released++;
      });
    });
    const counters = Number((await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM counters_v1")).rows[0]!.n);
    const groups = Number((await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM groups_v1")).rows[0]!.n);
    expect(counters).toBeGreaterThan(2000);
    expect(rows).toBe(counters + groups);
    // One hold per page of each table (a table's last page is the first one shorter than a full page).
    expect(holds).toBe(Math.floor(counters / RESTORE_PAGE_ROWS) + 1 + Math.floor(groups / RESTORE_PAGE_ROWS) + 1);
    expect(released).toBe(holds);
    // Views lost while events keep coming: the watchdog restores them between live batches.
    await deleteAllKeys(redisHandle);
    let last: Position = START;
    for (let round = 0; round < 10; round++) last = await appendCounts(store, makeCounts(100, { keys: 2500, groups: 11, seed: 50 + round }), 20);
    await caughtUp(last);
    await waitUntil(async () => (await redisHandle.redis.get(sentinelKey("test_counter", 1))) === "1", 20_000, "views restored");
    const expected = foldInMemory(counterProjection, await readEverything(store, db.pool));
    const keys = Object.keys(expected["counters"]!);
    const views = await redisHandle.redis.mgetBuffer(...keys.map((key) => viewKey("test_counter", 1, "counter", key)));
    const wrong = keys.filter((key, i) => !views[i]?.equals(expected["counters"]![key]!["body"] as Buffer));
    expect(wrong).toEqual([]);
  });

  it("runs one views restore at a time in a process (restores asked together take turns)", { timeout: 60_000 }, async () => {
    await caughtUp((await store.headPosition())!);
    await waitUntil(async () => (await redisHandle.redis.get(sentinelKey("test_counter", 1))) === "1", 20_000, "views complete");
    const pages: string[] = [];
    const holdAs = (name: string) => async (): Promise<() => void> => {
      pages.push(name);
      return () => undefined;
    };
    await Promise.all(["a", "b"].map((name) => restoreBesideWatchdog(() => restoreViews(db.pool, redisHandle.redis, counterProjection, 1, holdAs(name)))));
    // Several pages each; all of one restore's pages come before any of the other's.
    expect(pages.filter((name) => name === "a").length).toBeGreaterThan(2);
    const switches = pages.filter((name, i) => i > 0 && name !== pages[i - 1]).length;
    expect(switches).toBe(1);
  });

  it("clears a projection's view collections before it restores them, so stale members do not survive", async () => {
    await caughtUp((await store.headPosition())!);
    await waitUntil(async () => (await redisHandle.redis.get(sentinelKey("test_counter", 1))) === "1", 20_000, "views complete");
    const groups = viewKey("test_counter", 1, "groups");
    await redisHandle.redis.zadd(groups, 1, "ghost-group");
    const definition = { ...counterProjection, viewCollections: (version: number) => [viewKey("test_counter", version, "groups")] };
    await restoreBesideWatchdog(() => restoreViews(db.pool, redisHandle.redis, definition, 1));
    expect(await redisHandle.redis.zscore(groups, "ghost-group")).toBeNull();
    const expected = foldInMemory(counterProjection, await readEverything(store, db.pool));
    const [group, row] = Object.entries(expected["groups"]!)[0]!;
    expect(Number(await redisHandle.redis.zscore(groups, group))).toBe(row["total"]);
    // The watchdog may have seen this restore's token and queued a restore of its own (one runs
    // at a time in a process): it ends complete too.
    await waitUntil(async () => (await redisHandle.redis.get(sentinelKey("test_counter", 1))) === "1", 20_000, "views complete after the restore");
  });

  it("applies a task over several partitions exactly once per row, whatever each partition's checkpoint", async () => {
    // Its own name and version (tables counters_v7, groups_v7), applied by hand, not by the runner.
    const definition = { ...counterProjection, name: "test_counter_groups", version: 7 };
    await ensureProjectionSchema(db.pool, definition);
    const events = (await readEverything(store, db.pool)).filter((event) => event.type === "Counted").slice(0, 900);
    const deps = { pool: db.pool, views: null };
    // Even partitions first get the first half on their own, one task per partition...
    const half = events.slice(0, 450);
    for (const [partition, list] of partitionBatch(definition, half)) {
      if (partition % 2 === 0) await applyPartition(deps, definition, { version: 7, owned: [partition], partitions: 8, through: half.at(-1)!.position, events: list });
    }
    // ...then groups over everything: the even partitions skip what they have, the odd ones apply it all.
    for (const group of partitionGroups(definition, events, 300)) {
      expect(group.owned.length).toBeGreaterThan(1);
      await applyPartition(deps, definition, { version: 7, owned: group.owned, partitions: 8, through: events.at(-1)!.position, events: group.events });
    }
    expect(await readProjected(db.pool, definition)).toEqual(foldInMemory(definition, events));
    const checkpoints = await db.pool.query<{ position: string }>("SELECT position FROM projection_checkpoints WHERE projection = $1 AND version = 7", [definition.name]);
    expect(new Set(checkpoints.rows.map((row) => row.position))).toEqual(new Set([encodePosition(events.at(-1)!.position)]));
  });
});
