import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { comparePositions, START, type Position } from "../../shared/position.ts";
import { ProjectionLoop } from "./projection_loop.ts";
import { ensureProjectionSchema } from "./schema.ts";
import { createWorkerPool } from "./worker_pool.ts";
import { counterModule, counterProjection } from "./testing/counter_projection.ts";
import { appendCounts } from "./testing/fixtures.ts";
import { openRunnerStack, runnerStackSkipReason, type RunnerStack } from "./testing/stack.ts";

const skip = runnerStackSkipReason;

describe.skipIf(skip !== null)(`projection loop${skip ? ` (${skip})` : ""}`, () => {
  let stack: RunnerStack | undefined;

  beforeAll(async () => {
    stack = await openRunnerStack();
  });
  afterAll(async () => stack?.close());

  it("keeps applying live batches between the holds of a restore that holds it page after page", { timeout: 30_000 }, async () => {
    const { db, store, redisUrl, redisKeyPrefix, databaseUrl } = { ...stack!.connections(), db: stack!.db };
    await ensureProjectionSchema(db.pool, counterProjection);
    const piscina = createWorkerPool({ threads: 1, data: { databaseUrl, redisUrl, redisKeyPrefix } });
    let applied: Position = START;
    const loop = new ProjectionLoop(counterProjection, counterModule, {
      piscina, pool: db.pool, logger: pino({ level: "silent" }), store, batchSize: 100, maxInFlight: 2,
      onProgress: (position) => (applied = position), onViewsFailed: () => undefined,
    });
    const stop = new AbortController();
    const running = loop.run(stop.signal);
    const reached = async (position: Position, ms: number): Promise<boolean> => {
      const deadline = performance.now() + ms;
      while (comparePositions(applied, position) < 0) {
        if (performance.now() > deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return true;
    };
    try {
      expect(await reached(await appendCounts(store, [{ key: "h0", group: "g", amount: 1 }]), 10_000)).toBe(true);
      // A restore's rhythm: hold, read and write a page (a few ms), release, hold the next page at once.
      let holding = true;
      const restore = (async () => {
        while (holding) {
          const release = await loop.hold();
          await new Promise((resolve) => setTimeout(resolve, 5));
          release();
        }
      })();
      try {
        await new Promise((resolve) => setTimeout(resolve, 100));
        for (let i = 1; i <= 5; i++) {
          const position = await appendCounts(store, [{ key: `h${i}`, group: "g", amount: i }]);
          expect(await reached(position, 5000), `live event ${i} applied while the restore holds page after page`).toBe(true);
        }
      } finally {
        holding = false;
        await restore;
      }
    } finally {
      stop.abort();
      await running.catch(() => undefined);
      await piscina.destroy();
    }
  });
});
