import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { START, type Position } from "../../shared/position.ts";
import { ensureProjectionSchema } from "./schema.ts";
import { projectionStatus } from "./status.ts";
import { counterProjection } from "./testing/counter_projection.ts";
import { appendCounts, makeCounts, readEverything } from "./testing/fixtures.ts";
import { openRunnerStack, runnerStackSkipReason, type RunnerStack } from "./testing/stack.ts";
import { tallyProjection } from "./testing/tally_projection.ts";

const skip = runnerStackSkipReason;

describe.skipIf(skip !== null)(`projection status${skip ? ` (${skip})` : ""}`, () => {
  let stack: RunnerStack;
  let positions: Position[];

  beforeAll(async () => {
    stack = await openRunnerStack();
    // 60 events in single-event appends: every event has its own position.
    await appendCounts(stack.store, makeCounts(60, { keys: 5, groups: 2 }), 1);
    // Reads stop below the oldest open transaction of the whole cluster (other test files'
    // included): readEverything waits until all are readable.
    positions = (await readEverything(stack.store, stack.db.pool)).map((event) => event.position);
    expect(positions).toHaveLength(60);
  });

  afterAll(async () => stack?.close());

  /** The counter projection's status, led here with its position at the 60th event. */
  async function counterStatus(heldBackMs?: number) {
    const { items } = await projectionStatus({
      pool: stack.db.pool,
      store: stack.store,
      definitions: [counterProjection],
      local: new Map([[counterProjection.name, "leading" as const]]),
      announced: () => positions[59]!,
      ...(heldBackMs === undefined ? {} : { heldBackMs }),
    });
    return items[0]!;
  }

  it("counts each projection's exact lag behind the head, whatever their order and spacing", async () => {
    const definitions = [
      counterProjection,
      tallyProjection,
      { ...tallyProjection, name: "test_tally_b" },
      { ...tallyProjection, name: "test_tally_c" },
      { ...tallyProjection, name: "test_tally_d" },
    ];
    // Not in position order, two equal, one at the start, one at the head.
    const at: Record<string, Position> = {
      test_counter: positions[44]!,
      test_tally: positions[9]!,
      test_tally_b: positions[44]!,
      test_tally_c: START,
      test_tally_d: positions[59]!,
    };
    const { items } = await projectionStatus({
      pool: stack.db.pool,
      store: stack.store,
      definitions,
      local: new Map(definitions.map((definition) => [definition.name, "leading" as const])),
      announced: (name) => at[name],
    });
    expect(Object.fromEntries(items.map((item) => [item.name, item.lagEvents]))).toEqual({
      test_counter: 15,
      test_tally: 50,
      test_tally_b: 15,
      test_tally_c: 60,
      test_tally_d: 0,
    });
  });

  it("reports a version at the head as catching up while its deferred secondary indexes are not built", async () => {
    await ensureProjectionSchema(stack.db.pool, counterProjection);
    const status = async (): Promise<string> => (await counterStatus()).status;
    expect(await status()).toBe("running");
    await stack.db.pool.query("UPDATE projections SET indexes_built = false WHERE name = $1 AND version = $2", [counterProjection.name, counterProjection.version]);
    expect(await status()).toBe("catching_up");
    await stack.db.pool.query("UPDATE projections SET indexes_built = true WHERE name = $1 AND version = $2", [counterProjection.name, counterProjection.version]);
    expect(await status()).toBe("running");
  });

  it("counts a lag behind an open transaction as catching up only once that transaction has held readers back a while", async () => {
    // A transaction holding an id keeps readers below it; an event committed after it is lag nobody can read yet.
    const holder = await stack.db.pool.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT pg_current_xact_id()");
      await appendCounts(stack.store, makeCounts(1, { keys: 1, groups: 1, seed: 7 }), 1);
      // Open for less than the threshold (an append in flight, as under load): running, its lag shown.
      expect(await counterStatus(60_000)).toMatchObject({ status: "running", lagEvents: 1 });
      // Open for longer: catching up.
      expect(await counterStatus(0)).toMatchObject({ status: "catching_up", lagEvents: 1 });
    } finally {
      await holder.query("ROLLBACK");
      holder.release();
    }
  });
});
