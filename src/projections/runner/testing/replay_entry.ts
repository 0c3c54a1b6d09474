/**
 * Test support entry: runs one replay in a child process (so a test can SIGKILL it
 * midway). DATABASE_URL, REDIS_URL ("off": none), REDIS_KEY_PREFIX, PROJECTION_MODULES
 * (JSON), REPLAY_NAME, REPLAY_BATCH_SIZE, PROJECTION_BULK (JSON BulkTuning). An entry point, so
 * it reads the environment.
 */
import { pino } from "pino";
import { createPool } from "../../../db/pool.ts";
import { createPostgresStore } from "../../../event_store/postgres.ts";
import type { ProjectionModuleRef } from "../../define.ts";
import type { BulkTuning } from "../bulk_builder.ts";
import { runReplay } from "../replay.ts";

const env = process.env;
const databaseUrl = env["DATABASE_URL"]!;
const pool = createPool({ connectionString: databaseUrl, max: 6, applicationName: "replay-test" });
const store = createPostgresStore(pool, { connectionString: databaseUrl });
const result = await runReplay({
  pool,
  databaseUrl,
  store,
  redisUrl: env["REDIS_URL"] && env["REDIS_URL"] !== "off" ? env["REDIS_URL"] : null,
  redisKeyPrefix: env["REDIS_KEY_PREFIX"] ?? "",
  projections: JSON.parse(env["PROJECTION_MODULES"] ?? "[]") as ProjectionModuleRef[],
  name: env["REPLAY_NAME"]!,
  workers: 1,
  batchSize: Number(env["REPLAY_BATCH_SIZE"] ?? 1000),
  ...(env["PROJECTION_BULK"] ? { bulkTuning: JSON.parse(env["PROJECTION_BULK"]) as BulkTuning } : {}),
  dropOld: "leave",
  // Normal priority: these tests are about stopping and resuming, and niced workers in a
  // child can be starved for a minute by a busy test suite (seen in the full suite).
  niceness: 0,
  logger: pino({ level: "info" }),
  out: process.stdout,
});
process.stdout.write(`${JSON.stringify({ result })}\n`);
await store.close();
await pool.end();
