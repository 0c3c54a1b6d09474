/**
 * Standalone runner process: starts only the projections, from DATABASE_URL and REDIS_URL
 * ("off" or unset: no Redis views). PROJECTION_MODULES (JSON array of ProjectionModuleRef)
 * names the projections, REDIS_KEY_PREFIX prefixes every Redis key, PROJECTION_WORKERS
 * sizes the worker pool, PROJECTION_BATCH_SIZE the batches, PROJECTION_BULK (JSON BulkTuning)
 * the bulk builds. Used by the crash tests.
 * An entry point, so it reads the environment itself.
 */
import { pino } from "pino";
import { createPool } from "../../db/pool.ts";
import { createPostgresStore } from "../../event_store/postgres.ts";
import type { ProjectionModuleRef } from "../define.ts";
import { boundHeapGrowth } from "../../runtime/heap_growth.ts";
import type { BulkTuning } from "./bulk_builder.ts";
import { startProjections } from "./start.ts";

boundHeapGrowth();

const env = process.env;
const databaseUrl = env["DATABASE_URL"];
if (!databaseUrl) throw new Error("DATABASE_URL is required");
const redisUrl = env["REDIS_URL"] && env["REDIS_URL"] !== "off" ? env["REDIS_URL"] : null;
const modules = JSON.parse(env["PROJECTION_MODULES"] ?? "[]") as ProjectionModuleRef[];
const logger = pino({ level: env["LOG_LEVEL"] ?? "info" });
const pool = createPool({ connectionString: databaseUrl, max: 10, applicationName: "projection-runner", onError: (error) => logger.warn({ error: error.message }, "pool error") });
const store = createPostgresStore(pool, { connectionString: databaseUrl });
const projections = await startProjections({
  pool,
  databaseUrl,
  store,
  redisUrl,
  redisKeyPrefix: env["REDIS_KEY_PREFIX"] ?? "",
  projections: modules,
  workers: Number(env["PROJECTION_WORKERS"] ?? 2),
  batchSize: Number(env["PROJECTION_BATCH_SIZE"] ?? 1000),
  ...(env["PROJECTION_BULK"] ? { bulk: JSON.parse(env["PROJECTION_BULK"]) as BulkTuning } : {}),
  logger,
});
logger.info({ projections: modules.map((module) => module.name) }, "projection runner started");

const shutdown = async (): Promise<void> => {
  await projections.stop();
  await store.close();
  await pool.end();
  process.exit(0);
};
process.once("SIGTERM", () => void shutdown());
process.once("SIGINT", () => void shutdown());
