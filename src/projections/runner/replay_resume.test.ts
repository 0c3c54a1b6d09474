import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { viewKey } from "../../shared/read_models.ts";
import { runReplay } from "./replay.ts";
import { counterModule, counterProjection } from "./testing/counter_projection.ts";
import { appendCounts, dumpTables, foldInMemory, makeCounts, readEverything, readProjected, waitUntil, waitUntilVisible } from "./testing/fixtures.ts";
import { openRunnerStack, runnerStackSkipReason, type RunnerStack } from "./testing/stack.ts";
import { startRunnerProcess } from "./testing/runner_process.ts";
import { resolveServing, groupDefinitions } from "./versions.ts";

const skip = runnerStackSkipReason;

describe.skipIf(skip !== null)(`replay resume${skip ? ` (${skip})` : ""}`, () => {
  let stack: RunnerStack | undefined;
  let db: RunnerStack["db"];
  let store: RunnerStack["store"];
  let redisHandle: RunnerStack["redisHandle"];

  beforeAll(async () => {
    stack = await openRunnerStack();
    ({ db, store, redisHandle } = stack);
  });

  afterAll(async () => {
    await stack?.close();
  });

  it("a replay SIGKILLed midway resumes from its checkpoints and ends equal to a clean replay", { timeout: 90_000 }, async () => {
    const last = await appendCounts(store, makeCounts(20_000, { keys: 2000, groups: 13, seed: 3 }), 500);
    // A replay started before they are visible would find its head at 0 and be done at once.
    await waitUntilVisible(store, last);
    await resolveServing(db.pool, groupDefinitions([counterProjection], [counterModule])[0]!);
    const child = startRunnerProcess({ databaseUrl: db.url, redisUrl: redisHandle.url, redisKeyPrefix: redisHandle.prefix, modules: [counterModule], batchSize: 1000, replay: "test_counter",
      // A bulk build that flushes every 1,000 events (else it would reach 20,000 in one flush, before any kill).
      bulk: { flushEvents: 1000, flushRows: 500 } });
    let lastDone = 0;
    const done = async (): Promise<number> => {
      const row = (await db.pool.query("SELECT events_done FROM projections WHERE name = 'test_counter' AND version = 2")).rows[0];
      lastDone = Number(row?.events_done ?? 0);
      return lastDone;
    };
    // The replay child runs at a lower CPU priority (it yields to live work): on a machine busy
    // with the rest of the suite it can start slowly. A failure says what the child said, so a
    // stalled replay can be told from a starved one.
    await waitUntil(async () => (await done()) >= 3000, 60_000, "replay progress").catch((error: unknown) => {
      throw new Error(`${(error as Error).message} (events done: ${lastDone}); the replay child's last lines: ${JSON.stringify(child.logs.slice(-8))}`);
    });
    expect(await child.kill("SIGKILL")).toBe("SIGKILL");
    const before = await done();
    expect(before).toBeLessThan(20_000);
    const checkpoints = await db.pool.query("SELECT count(*)::int AS n FROM projection_checkpoints WHERE projection = 'test_counter' AND version = 2 AND position <> '0-0'");
    expect(checkpoints.rows[0].n).toBeGreaterThan(0);

    const options = {
      ...stack!.connections(),
      projections: [counterModule],
      name: "test_counter",
      workers: 2,
      logger: pino({ level: "silent" }),
      dropOld: "leave" as const,
    };
    const resumed = await runReplay(options);
    expect(resumed.version).toBe(2);
    expect(resumed.resumedFrom).toBeGreaterThanOrEqual(before);
    expect(resumed.events).toBe(20_000 - resumed.resumedFrom);

    const expected = foldInMemory(counterProjection, await readEverything(store, db.pool));
    expect(await readProjected(db.pool, counterProjection, 2)).toEqual(expected);
    for (const [key, row] of Object.entries(expected["counters"]!).slice(0, 100)) {
      expect((await redisHandle.redis.getBuffer(viewKey("test_counter", 2, "counter", key)))?.equals(row["body"] as Buffer)).toBe(true);
    }

    const clean = await runReplay(options);
    expect(clean).toMatchObject({ version: 3, resumedFrom: 0, events: 20_000 });
    expect(await dumpTables(db.pool, counterProjection, 3)).toEqual(await dumpTables(db.pool, counterProjection, 2));
    const groups = await Promise.all([2, 3].map((v) => redisHandle.redis.zrange(viewKey("test_counter", v, "groups"), 0, -1, "WITHSCORES")));
    expect(groups[1]).toEqual(groups[0]);
  });
});
