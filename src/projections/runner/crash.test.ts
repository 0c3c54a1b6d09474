import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { comparePositions, type Position } from "../../shared/position.ts";
import { viewKey } from "../../shared/read_models.ts";
import { counterModule, counterProjection } from "./testing/counter_projection.ts";
import { appendCounts, foldInMemory, makeCounts, readEverything, readProjected, waitUntil } from "./testing/fixtures.ts";
import { openRunnerStack, runnerStackSkipReason, type RunnerStack } from "./testing/stack.ts";
import { startRunnerProcess } from "./testing/runner_process.ts";
import { readWatermark } from "./watermark.ts";

const skip = runnerStackSkipReason;

describe.skipIf(skip !== null)(`projection runner crash safety${skip ? ` (${skip})` : ""}`, () => {
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

  const watermark = (): Promise<Position> => readWatermark(db.pool, "test_counter", 1);

  it("SIGKILLed at random points over 20,000 events, then restarted, equals a clean one-pass projection", { timeout: 60_000 }, async () => {
    let last = await appendCounts(store, makeCounts(20_000, { keys: 2000, groups: 13, seed: 7 }), 500);
    const options = { databaseUrl: db.url, redisUrl: redisHandle.url, redisKeyPrefix: redisHandle.prefix, modules: [counterModule], batchSize: 500 };
    for (let round = 0; round < 3; round++) {
      const before = await watermark();
      const runner = startRunnerProcess(options);
      await waitUntil(async () => comparePositions(await watermark(), before) > 0, 20_000, "progress after restart");
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 400)));
      expect(await runner.kill("SIGKILL")).toBe("SIGKILL");
      last = await appendCounts(store, makeCounts(500, { keys: 2000, groups: 13, seed: round + 100 }), 50);
    }
    expect(comparePositions(await watermark(), last)).toBeLessThan(0);
    // The last kill left the views marked as being written: the next leader restores them.
    expect((await db.pool.query("SELECT views_writing FROM projections WHERE name = 'test_counter' AND version = 1")).rows[0]?.views_writing).toBe(true);
    const runner = startRunnerProcess(options);
    try {
      await waitUntil(async () => comparePositions(await watermark(), last) >= 0, 40_000, "catch-up");
      await waitUntil(async () => runner.logs.some((line) => line["msg"] === "restored Redis views from rows"), 20_000, "views restored");
    } finally {
      await runner.kill("SIGTERM");
    }
    // A clean stop clears the mark.
    expect((await db.pool.query("SELECT views_writing FROM projections WHERE name = 'test_counter' AND version = 1")).rows[0]?.views_writing).toBe(false);
    const expected = foldInMemory(counterProjection, await readEverything(store, db.pool));
    expect(await readProjected(db.pool, counterProjection)).toEqual(expected);
    for (const [key, row] of Object.entries(expected["counters"]!).slice(0, 50)) {
      const view = await redisHandle.redis.getBuffer(viewKey("test_counter", 1, "counter", key));
      expect(view?.toString()).toBe((row["body"] as Buffer).toString());
    }
  });
});
