import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotFoundError } from "../../shared/errors.ts";
import { viewKey } from "../../shared/read_models.ts";
import { runReplay, runReplays } from "./replay.ts";
import { counterModule, counterProjection } from "./testing/counter_projection.ts";
import { appendCounts, dumpTables, foldInMemory, makeCounts, readEverything, readProjected } from "./testing/fixtures.ts";
import { openRunnerStack, runnerStackSkipReason, type RunnerStack } from "./testing/stack.ts";
import { tallyModule, tallyProjection } from "./testing/tally_projection.ts";
import { groupDefinitions, resolveServing } from "./versions.ts";

const skip = runnerStackSkipReason;

describe.skipIf(skip !== null)(`replays of several projections in one pass${skip ? ` (${skip})` : ""}`, () => {
  let stack: RunnerStack | undefined;
  const modules = [counterModule, tallyModule];

  beforeAll(async () => {
    stack = await openRunnerStack();
    await appendCounts(stack.store, makeCounts(12_000, { keys: 900, groups: 11, seed: 5 }), 400);
    // Reads (and a replay's head) stop below the cluster's oldest open transaction, which other
    // test files hold: once all 12,000 are readable (readEverything waits) they stay so, and each
    // replay sees them all.
    expect(await readEverything(stack.store, stack.db.pool)).toHaveLength(12_000);
    for (const family of groupDefinitions([counterProjection, tallyProjection], modules)) await resolveServing(stack.db.pool, family);
  });

  afterAll(async () => {
    await stack?.close();
  });

  const options = () => ({ ...stack!.connections(), projections: modules, workers: 2, batchSize: 1500, logger: pino({ level: "silent" }), dropOld: "leave" as const });

  it("rebuilds both into their next versions, each equal to a clean projection, sharing one worker pool", { timeout: 60_000 }, async () => {
    const lines: string[] = [];
    const out = { write: (chunk: string) => void lines.push(chunk), isTTY: true } as unknown as NodeJS.WritableStream;
    const results = await runReplays({ ...options(), names: ["test_counter", "test_tally"], out });
    expect(results.map((result) => result.version)).toEqual([2, 2]);
    expect(results.map((result) => result.events)).toEqual([12_000, 12_000]);
    const events = await readEverything(stack!.store, stack!.db.pool);
    expect(await readProjected(stack!.db.pool, counterProjection, 2)).toEqual(foldInMemory(counterProjection, events));
    const tallies = foldInMemory(tallyProjection, events);
    expect(await readProjected(stack!.db.pool, tallyProjection, 2)).toEqual(tallies);
    for (const [group, row] of Object.entries(tallies["tallies"]!)) {
      expect(await stack!.redisHandle.redis.get(viewKey("test_tally", 2, "grp", group))).toBe(`${row["events"]}:${row["amount"]}`);
    }
    // Several replays print plain lines (no bar redrawn in place), each naming its projection.
    expect(lines.some((line) => line.includes("\r"))).toBe(false);
    expect(lines.some((line) => line.startsWith("replay test_counter v2"))).toBe(true);
    expect(lines.some((line) => line.startsWith("replay test_tally v2"))).toBe(true);
    // The same as one replay at a time: a single replay of the counter gives the same tables.
    expect(await runReplay({ ...options(), name: "test_counter" })).toMatchObject({ version: 3, events: 12_000 });
    expect(await dumpTables(stack!.db.pool, counterProjection, 3)).toEqual(await dumpTables(stack!.db.pool, counterProjection, 2));
  });

  it("starts none when one name is unknown, and leaves no lock behind", { timeout: 60_000 }, async () => {
    await expect(runReplays({ ...options(), names: ["test_tally", "no_such_projection"] })).rejects.toBeInstanceOf(NotFoundError);
    // Nothing of test_tally was started: its next replay starts from zero into v3.
    const [result] = await runReplays({ ...options(), names: ["test_tally"] });
    expect(result).toMatchObject({ version: 3, resumedFrom: 0, events: 12_000 });
    expect(await readProjected(stack!.db.pool, tallyProjection, result!.version)).toEqual(foldInMemory(tallyProjection, await readEverything(stack!.store, stack!.db.pool)));
  });
});
