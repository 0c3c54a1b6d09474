import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePosition } from "../../shared/position.ts";
import { ensureProjectionSchema } from "../runner/schema.ts";
import { counterProjection } from "../runner/testing/counter_projection.ts";
import { appendCounts, makeCounts, waitUntilVisible } from "../runner/testing/fixtures.ts";
import { openRunnerStack, runnerStackSkipReason, type RunnerStack } from "../runner/testing/stack.ts";
import { runGroupBuild } from "./build.ts";

const skip = runnerStackSkipReason;

describe.skipIf(skip !== null)(`bulk build progress${skip ? ` (${skip})` : ""}`, () => {
  let stack: RunnerStack | undefined;

  beforeAll(async () => {
    stack = await openRunnerStack();
  });

  afterAll(async () => {
    await stack?.close();
  });

  it("reports events read between flushes (for displays), and stored progress with each flush", { timeout: 60_000 }, async () => {
    const { db, store } = stack!;
    const last = await appendCounts(store, makeCounts(45_000, { keys: 50, groups: 5, seed: 5 }), 1000);
    await waitUntilVisible(store, last);
    await ensureProjectionSchema(db.pool, counterProjection, 3);
    const reads: number[] = [];
    const flushes: number[] = [];
    const connectReader = async (): Promise<pg.Client> => {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      return client;
    };
    const [outcome] = await runGroupBuild({ pool: db.pool, connectReader, connectViews: null }, encodePosition(last), [{
      definition: counterProjection,
      // Few rows (50 keys): only the events period ends a flush.
      request: { version: 3, views: false, viewsFresh: false, flushEvents: 20_000 },
      hooks: { progress: (_position, consumed) => flushes.push(consumed), stopped: () => false, viewsFailed: () => undefined, reading: (consumed) => reads.push(consumed) },
    }]);
    expect(outcome?.ok).toBe(true);
    // Stored progress with each flush: two full periods (a chunk may run past one), then the rest at the end.
    expect(flushes).toHaveLength(3);
    expect(flushes[0]).toBeGreaterThanOrEqual(20_000);
    expect(flushes[1]! - flushes[0]!).toBeGreaterThanOrEqual(20_000);
    expect(flushes[2]).toBe(45_000);
    // Reading reports in between, every 10,000 events or so, growing, none past the log.
    expect(reads.length).toBeGreaterThanOrEqual(2);
    expect(reads).toEqual([...reads].sort((a, b) => a - b));
    expect(reads.every((consumed) => consumed > 0 && consumed < 45_000 && !flushes.includes(consumed))).toBe(true);
  });
});
