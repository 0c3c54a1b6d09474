import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Redis } from "ioredis";
import { projectionModules, projections } from "../all.ts";
import { runReplays } from "../runner/replay.ts";
import { startProjections, type Projections } from "../runner/start.ts";
import { dumpTables, readEverything, waitUntil } from "../runner/testing/fixtures.ts";
import { openRunnerStack, runnerStackSkipReason, type RunnerStack } from "../runner/testing/stack.ts";
import { seed } from "../../seed/seed.ts";
import { encodePosition } from "../../shared/position.ts";
import { sentinelKey } from "../../shared/read_models.ts";

const skip = runnerStackSkipReason;

/** Every Redis key of a projection version (without the client prefix, the version part replaced), with its content in a comparable form. */
async function dumpViews(redis: Redis, prefix: string, projection: string, version: number): Promise<Record<string, unknown>> {
  const dump: Record<string, unknown> = {};
  const plain = redis.duplicate({ keyPrefix: "" });
  try {
    let cursor = "0";
    const keys: string[] = [];
    do {
      const [next, found] = await plain.scan(cursor, "MATCH", `${prefix}${projection}:v${version}:*`, "COUNT", 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== "0");
    for (const key of keys.sort()) {
      const name = key.slice(prefix.length).replace(`${projection}:v${version}:`, `${projection}:v*:`);
      const type = await plain.type(key);
      if (type === "string") dump[name] = (await plain.getBuffer(key))?.toString("base64");
      else if (type === "zset") dump[name] = await plain.zrange(key, 0, -1, "WITHSCORES");
      else if (type === "hash") dump[name] = Object.fromEntries(Object.entries(await plain.hgetallBuffer(key)).map(([field, value]) => [field, value.toString("base64")]).sort());
      else dump[name] = type;
    }
  } finally {
    plain.disconnect();
  }
  return dump;
}

describe.skipIf(skip !== null)(`bulk builds${skip ? ` (${skip})` : ""}`, () => {
  let stack: RunnerStack | undefined;
  let service: Projections | undefined;
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });

  beforeAll(async () => {
    stack = await openRunnerStack();
  });

  afterAll(async () => {
    await service?.stop();
    await stack?.close();
  });

  it("builds every projection exactly as batches do: the same rows and the same Redis views, byte for byte", { timeout: 120_000 }, async () => {
    const { store, db, redisHandle } = stack!;
    await seed(store, { products: 80, orders: 3000, customers: 700, seed: 3 });
    const events = await readEverything(store, db.pool);
    expect(events.length).toBeGreaterThan(7000);
    // v1 of each projection in batches (a build in bulk never starts: the threshold is out of reach).
    service = await startProjections({ ...stack!.connections(), projections: projectionModules, workers: 2, batchSize: 500, bulk: { minEvents: Number.MAX_SAFE_INTEGER }, logger, replayGraceMs: 600_000 });
    const head = events.at(-1)!.position;
    expect(await service.progress.waitFor(projections.map((p) => p.name), head, 60_000)).toBe(true);
    // Its views are restored from the rows once it reached the head of its backlog.
    await waitUntil(() => projections.every((p) => service!.viewsReady(p.name) === true), 30_000, "v1 views");
    // v2 in bulk: a replay of all three, with a threshold every replay passes, in many small
    // flushes that keep few rows from one to the next (rows let go of and read back), holding
    // orders back for up to 1,500 events (some written once settled, some when held long enough).
    const results = await runReplays({
      ...stack!.connections(), projections: projectionModules, names: projections.map((p) => p.name), workers: 2, logger, dropOld: "leave", graceMs: 600_000,
      bulkTuning: { minEvents: 1, flushEvents: 700, flushRows: 250, flushNewRows: 90, cachedRows: 40, holdEvents: 1500 },
    });
    expect(results.map((r) => r.version)).toEqual(projections.map((p) => p.version + 1));
    // Built in bulk (not left to batches after a failure), in many flushes.
    const built = logs.filter((line) => line["msg"] === "bulk build reached its head");
    expect(built.map((line) => line["projection"]).sort()).toEqual(projections.map((p) => p.name).sort());
    for (const line of built) expect(line["flushes"]).toBeGreaterThan(5);
    // Asked for together, from the same position: one build of all three (one read of the log).
    for (const line of built) expect(line["together"]).toBe(3);
    // Orders held until settled are written about once each (without holds: 3,952 writes of 3,000 orders).
    const orderCount = new Set(events.filter((event) => event.type === "OrderPlaced").map((event) => event.data["orderId"])).size;
    const ordersBuilt = built.find((line) => line["projection"] === "orders")!;
    expect(ordersBuilt["rows"]).toBeLessThan(orderCount * 1.1);
    expect(logs.filter((line) => line["msg"] === "replay wrote its Redis views")).toEqual([]);
    expect(logs.filter((line) => line["msg"] === "bulk build failed; going on with batches")).toEqual([]);
    for (const definition of projections) {
      const built = definition.version + 1;
      const progress = await db.pool.query<{ position: string; events_done: string }>("SELECT position, events_done FROM projections WHERE name = $1 AND version = $2", [definition.name, built]);
      expect(Number(progress.rows[0]!.events_done)).toBe(events.length);
      const dumpV1 = await dumpTables(db.pool, definition, definition.version);
      const dumpV2 = await dumpTables(db.pool, definition, built);
      expect(dumpV2.length).toBeGreaterThan(10);
      expect(dumpV2).toEqual(dumpV1);
      const viewsV1 = await dumpViews(redisHandle.redis, redisHandle.prefix, definition.name, definition.version);
      const viewsV2 = await dumpViews(redisHandle.redis, redisHandle.prefix, definition.name, built);
      expect(Object.keys(viewsV2).length).toBeGreaterThan(10);
      expect(viewsV2).toEqual(viewsV1);
      // Complete (written by the build, not restored afterwards): readers of collections trust them.
      expect(await redisHandle.redis.get(sentinelKey(definition.name, built))).toBe("1");
    }
    // Each build left every partition's checkpoint at the head.
    for (const definition of projections) {
      const rows = await db.pool.query<{ position: string }>("SELECT position FROM projection_checkpoints WHERE projection = $1 AND version = $2", [definition.name, definition.version + 1]);
      expect(rows.rows.length).toBeGreaterThan(0);
      for (const row of rows.rows) expect(row.position).toBe(encodePosition(head));
    }
  });
});
