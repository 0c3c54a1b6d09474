/**
 * The service SIGKILLed under a mixed command load at random moments, restarted each
 * time: every acknowledged command is stored exactly once, no product is half-created,
 * and the read models (tables with their prepared view bytes, and the Redis views) equal
 * those of a clean projection of the same events. FAULTS_LONG=1 kills more often.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, sendCommand, sendQuery, sleep } from "./support/client.ts";
import { copyEvents, readTables } from "./support/clean_copy.ts";
import { postgresSkipReason, startPostgresServer, type PostgresServer } from "./support/postgres_server.ts";
import { dumpRedis } from "./support/redis_dump.ts";
import { redisServerSkipReason, startRedisServer, type RedisServer } from "./support/redis_server.ts";
import { startServiceProcess, type ServiceProcess } from "../testing/service_process.ts";
import { exactlyOnceProblems, halfAppliedProblems, readEvents, readModelLag, streamVersions } from "./support/store_check.ts";
import { acknowledged, runLoad, type LedgerEntry } from "./support/workload.ts";

const skip = postgresSkipReason() ?? redisServerSkipReason();
const LONG = process.env["FAULTS_LONG"] === "1";
const KILLS = LONG ? 100 : 20;

async function settled(base: string): Promise<boolean> {
  const answer = await sendQuery(base, "/v1/projections");
  const items = (answer.body as { items?: Array<{ lagEvents: number; status: string }> } | null)?.items ?? [];
  if (!(answer.status === 200 && items.length > 0 && items.every((item) => item.lagEvents === 0 && item.status === "running"))) return false;
  // And the Redis views complete: a leader that finds its predecessor died while writing
  // views restores them (in the background, page by page).
  const metrics = await fetch(`${base}/metrics`).then((response) => response.text()).catch(() => "");
  const ready = metrics.split("\n").filter((line) => line.startsWith("projection_views_ready{"));
  return ready.length > 0 && ready.every((line) => line.endsWith(" 1"));
}

describe.skipIf(skip !== null)(`SIGKILL under load${skip ? ` (${skip})` : ""}`, () => {
  let postgres: PostgresServer;
  let redis: RedisServer;
  let cleanRedis: RedisServer;
  let service: ServiceProcess | null = null;
  let clean: ServiceProcess | null = null;
  let databaseUrl = "";

  beforeAll(async () => {
    postgres = await startPostgresServer();
    databaseUrl = await postgres.createDatabase("commerce");
    redis = await startRedisServer();
    cleanRedis = await startRedisServer();
  });
  afterAll(async () => {
    await service?.kill("SIGKILL");
    await clean?.kill("SIGKILL");
    await redis?.close();
    await cleanRedis?.close();
    await postgres?.destroy();
  });

  it(`keeps every acknowledged command exactly once across ${KILLS} kills, and projects like a clean run`, { timeout: LONG ? 900_000 : 170_000 }, async () => {
    service = await startServiceProcess({ databaseUrl, redisUrl: redis.url });
    let base = service.url;
    const stopLoad = new AbortController();
    const load = runLoad({ base: () => base, lanes: 3, maxCommandsPerLane: 5000, durationMs: LONG ? 800_000 : 150_000, runId: "kill", timeoutMs: 10_000, signal: stopLoad.signal });
    let kills = 0;
    try {
      for (; kills < KILLS; kills++) {
        await sleep(100 + Math.random() * 900);
        await service.kill("SIGKILL");
        service = await startServiceProcess({ databaseUrl, redisUrl: redis.url });
        base = service.url;
      }
    } finally {
      stopLoad.abort();
    }
    const ledger = await load;
    const acked = ledger.filter(acknowledged);
    expect(acked.length).toBeGreaterThan(KILLS);
    // A killed process drops connections (status 0); a live one never answers 500.
    expect(ledger.filter((entry) => entry.answer.status >= 500).map((entry) => `${entry.path} → ${entry.answer.status} ${JSON.stringify(entry.answer.body)}`)).toEqual([]);

    // A client retries every command that got no answer, with the same key: a command
    // that was stored before the kill answers again instead of being stored twice.
    const retried: LedgerEntry[] = [];
    for (const entry of ledger.filter((item) => item.answer.status === 0)) {
      retried.push({ ...entry, answer: await sendCommand(base, entry.path, entry.body, { key: entry.key }) });
    }
    expect(retried.filter((entry) => entry.answer.status === 0 || entry.answer.status >= 500).map((entry) => `${entry.path} → ${entry.answer.status}`)).toEqual([]);

    const events = await readEvents(databaseUrl);
    expect(exactlyOnceProblems([...ledger, ...retried], events)).toEqual([]);
    expect(halfAppliedProblems(events)).toEqual([]);

    // The killed-and-restarted projections catch up...
    const versions = streamVersions(events);
    let behind: string[] = [];
    expect(await eventually(async () => (behind = await readModelLag(base, versions)).length === 0, { timeoutMs: 60_000, intervalMs: 500 }), behind.slice(0, 10).join("\n")).toBe(true);
    expect(await eventually(() => settled(base), { timeoutMs: 30_000, intervalMs: 250 })).toBe(true);

    // ...to exactly what a clean projection of the same events builds.
    const cleanUrl = await postgres.createDatabase("clean");
    expect(await copyEvents(databaseUrl, cleanUrl)).toBe(events.length);
    clean = await startServiceProcess({ databaseUrl: cleanUrl, redisUrl: cleanRedis.url });
    const cleanBase = clean.url;
    expect(await eventually(async () => (await readModelLag(cleanBase, versions)).length === 0 && (await settled(cleanBase)), { timeoutMs: 60_000, intervalMs: 500 })).toBe(true);

    const [killedTables, cleanTables] = await Promise.all([readTables(databaseUrl), readTables(cleanUrl)]);
    expect([...killedTables.keys()]).toEqual([...cleanTables.keys()]);
    expect(killedTables.size).toBeGreaterThan(0);
    for (const [table, rows] of cleanTables) {
      expect(rows.length, table).toBeGreaterThan(0);
      expect(killedTables.get(table), `read table ${table}`).toEqual(rows);
    }
    const sentinel = /^projections:sentinel:/;
    const killedViews = redis.client();
    const cleanViews = cleanRedis.client();
    try {
      const [a, b] = await Promise.all([dumpRedis(killedViews, { exclude: sentinel }), dumpRedis(cleanViews, { exclude: sentinel })]);
      expect(b.size).toBeGreaterThan(0);
      expect([...a.keys()].filter((key) => !b.has(key)), "Redis keys only in the killed run").toEqual([]);
      expect([...b.keys()].filter((key) => !a.has(key)), "Redis keys only in the clean run").toEqual([]);
      expect([...a.entries()].filter(([key, value]) => b.get(key) !== value).map(([key]) => key), "Redis views that differ").toEqual([]);
    } finally {
      killedViews.disconnect();
      cleanViews.disconnect();
    }
    console.info(`sigkill: ${kills} kills, ${ledger.length} commands (${acked.length} acknowledged, ${retried.length} retried after no answer), ${events.length} events`);
  });
});
