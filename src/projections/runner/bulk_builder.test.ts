import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectionModules, projections } from "../all.ts";
import { seed } from "../../seed/seed.ts";
import { encodePosition, START } from "../../shared/position.ts";
import { createBulkBuilder, GROUP_WAIT_MS, type BulkRun } from "./bulk_builder.ts";
import { ensureProjectionSchema } from "./schema.ts";
import { readEverything } from "./testing/fixtures.ts";
import { openRunnerStack, runnerStackSkipReason, type RunnerStack } from "./testing/stack.ts";

const skip = runnerStackSkipReason;

describe.skipIf(skip !== null)(`bulk builder grouping${skip ? ` (${skip})` : ""}`, () => {
  let stack: RunnerStack | undefined;

  beforeAll(async () => {
    stack = await openRunnerStack();
  });

  afterAll(async () => {
    await stack?.close();
  });

  it("builds asked for apart still run as one while the loops it expects have not decided; alone once they have", { timeout: 120_000 }, async () => {
    const { store, db, databaseUrl } = { ...stack!, ...stack!.connections() };
    await seed(store, { products: 20, orders: 200, customers: 50, seed: 5 });
    // Every seeded event visible (a transaction open elsewhere on the server holds the visible head back).
    const head = (await readEverything(store, db.pool)).at(-1)!.position;
    const builder = createBulkBuilder({ threads: 1, data: { databaseUrl, redisUrl: null, redisKeyPrefix: "", niceness: 0 } });
    const request = (i: number, version: number): BulkRun => ({
      module: projectionModules[i]!, version, after: START, through: head, views: false, viewsFresh: false,
      signal: new AbortController().signal, onProgress: () => undefined, onViewsFailed: () => undefined,
    });
    try {
      for (const definition of projections) await ensureProjectionSchema(db.pool, definition);
      const decided = projections.map(() => builder.expect());
      const first = builder.run(request(0, projections[0]!.version));
      decided[0]!();
      decided[0]!(); // idempotent: still two loops undecided
      await new Promise((resolve) => setTimeout(resolve, GROUP_WAIT_MS * 3));
      const second = builder.run(request(1, projections[1]!.version));
      decided[1]!();
      // The third loop decides not to build: the group goes without it at once.
      decided[2]!();
      const outcomes = await Promise.all([first, second]);
      expect(outcomes.map((outcome) => outcome.together)).toEqual([2, 2]);
      for (const outcome of outcomes) expect(encodePosition(outcome.position)).toBe(encodePosition(head));
      // Nobody announced any more: a build asked for goes by itself, not held for another.
      for (const definition of projections) await ensureProjectionSchema(db.pool, definition, definition.version + 10);
      expect((await builder.run(request(2, projections[2]!.version + 10))).together).toBe(1);
    } finally {
      await builder.destroy();
    }
  });
});
