import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresStore } from "../../event_store/postgres.ts";
import type { EventStore } from "../../event_store/types.ts";
import { comparePositions, type Position } from "../../shared/position.ts";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../../testing/db.ts";
import { counterModule, counterProjection } from "./testing/counter_projection.ts";
import { appendCounts, foldInMemory, makeCounts, readEverything, readProjected, waitUntil } from "./testing/fixtures.ts";
import { startRunnerProcess, type RunnerProcess } from "./testing/runner_process.ts";
import { readWatermark } from "./watermark.ts";

const leads = (runner: RunnerProcess): boolean => runner.logs.some((line) => line["msg"] === "leading projection");

describe.skipIf(!databaseAvailable)(`projection leadership (${databaseSkipReason})`, () => {
  let db: TestDatabase;
  let store: EventStore;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = createPostgresStore(db.pool, { connectionString: db.url });
  });

  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  const caughtUp = async (last: Position): Promise<boolean> => comparePositions(await readWatermark(db.pool, "test_counter", 1), last) >= 0;

  it("runs one leader across two processes; the standby takes over from the checkpoint when it dies", { timeout: 60_000 }, async () => {
    const options = { databaseUrl: db.url, redisUrl: null, redisKeyPrefix: "", modules: [counterModule] };
    const a = startRunnerProcess(options);
    const b = startRunnerProcess(options);
    try {
      let last = await appendCounts(store, makeCounts(2000, { keys: 300, groups: 5, seed: 1 }), 100);
      await waitUntil(() => caughtUp(last), 20_000, "first leader catches up");
      expect([leads(a), leads(b)].filter(Boolean)).toHaveLength(1);
      const [leader, standby] = leads(a) ? [a, b] : [b, a];
      expect(await leader.kill("SIGKILL")).toBe("SIGKILL");
      last = await appendCounts(store, makeCounts(1000, { keys: 300, groups: 5, seed: 2 }), 100);
      await waitUntil(() => caughtUp(last), 20_000, "standby takes over");
      expect(leads(standby)).toBe(true);
      expect(await readProjected(db.pool, counterProjection)).toEqual(foldInMemory(counterProjection, await readEverything(store, db.pool)));
    } finally {
      await Promise.all([a, b].map((runner) => (runner.child.exitCode === null && runner.child.signalCode === null ? runner.kill("SIGTERM") : undefined)));
    }
  });
});
