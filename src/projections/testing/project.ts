/**
 * Test support: projects events into a test database (and Redis) with the real runner's
 * code path — the same schema creation and partition application the workers run —
 * in-process and in one pass, so query tests read data produced exactly as in production.
 */
import type { Redis } from "ioredis";
import type { Pool } from "../../db/pool.ts";
import type { RecordedEvent } from "../../event_store/types.ts";
import type { ProjectionDefinition } from "../define.ts";
import { applyPartition } from "../runner/apply_partition.ts";
import { ioredisViews } from "../runner/views.ts";
import { partitionBatch, partitionCount } from "../runner/partition.ts";
import { ensureProjectionSchema } from "../runner/schema.ts";
import { sentinelKey } from "../../shared/read_models.ts";

/** Creates each definition's tables (with indexes) at its version. */
export async function createReadTables(pool: Pool, definitions: readonly ProjectionDefinition[]): Promise<void> {
  for (const definition of definitions) await ensureProjectionSchema(pool, definition);
}

/**
 * Applies the events as one batch per definition, partition by partition; with Redis, the
 * views are then complete (as after a restore), so each definition's sentinel is set.
 */
export async function projectEvents(options: { pool: Pool; redis: Redis | null; definitions: readonly ProjectionDefinition[]; events: readonly RecordedEvent[] }): Promise<void> {
  const through = options.events.at(-1)?.position;
  if (!through) return;
  for (const definition of options.definitions) {
    for (const [partition, events] of partitionBatch(definition, options.events)) {
      await applyPartition({ pool: options.pool, views: options.redis ? ioredisViews(options.redis) : null }, definition, {
        version: definition.version,
        owned: [partition],
        partitions: partitionCount(definition),
        through,
        events,
      });
    }
    if (options.redis && definition.views) await options.redis.set(sentinelKey(definition.name, definition.version), "1");
  }
}
