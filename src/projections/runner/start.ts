/**
 * Entry point for the composition root: starts the projection engine (leadership per
 * projection, consumption loops on a worker pool, Redis view restore, progress
 * notifications) and returns what the query side and operators need.
 */
import { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Pool } from "../../db/pool.ts";
import type { EventStore } from "../../event_store/types.ts";
import type { ActiveVersions, ProgressWaiter } from "../../shared/read_models.ts";
import type { RouteModule } from "../../http/route_module.ts";
import type { ProjectionModuleRef } from "../define.ts";
import { leadProjection, type ViewsState } from "./leader_session.ts";
import { runWhileLeader } from "./leadership.ts";
import { loadDefinitions } from "./load_definition.ts";
import { ActiveVersionTable, ProgressTracker } from "./progress.ts";
import { ProjectionLoop } from "./projection_loop.ts";
import { ensureProjectionSchema } from "./schema.ts";
import { projectionStatus, type LocalState, type ProjectionStatusItem } from "./status.ts";
import { projectionStatusRoutes } from "./status_routes.ts";
import { createWorkerPool } from "./worker_pool.ts";

export interface StartProjectionsOptions {
  pool: Pool;
  databaseUrl: string;
  store: EventStore;
  redisUrl: string | null;
  redisKeyPrefix?: string;
  projections: ProjectionModuleRef[];
  workers: number;
  logger: Logger;
  batchSize?: number;
  /** Batches in flight per projection (default 4). */
  maxInFlight?: number;
  /** Standby retry interval for leadership (default 1000 ms). */
  leaderRetryMs?: number;
}

export interface Projections {
  progress: ProgressWaiter;
  activeVersions: ActiveVersions;
  status(): Promise<{ items: ProjectionStatusItem[] }>;
  routes: RouteModule;
  stop(): Promise<void>;
}

/** Starts every projection (leading those whose lock it gets) and resolves once progress is being listened to. */
export async function startProjections(options: StartProjectionsOptions): Promise<Projections> {
  const { pool, logger, store } = options;
  const definitions = await loadDefinitions(options.projections);
  for (const definition of definitions) await ensureProjectionSchema(pool, definition);
  const activeVersions = new ActiveVersionTable(new Map(definitions.map((d) => [d.name, d.version])));
  await activeVersions.refresh(pool);
  const progress = new ProgressTracker(activeVersions);
  const stopping = new AbortController();
  const signal = stopping.signal;

  let listening!: () => void;
  const ready = new Promise<void>((resolve) => (listening = resolve));
  const listener = progress.listen({ connectionString: options.databaseUrl, pool, signal, logger, onListening: () => listening() });
  await Promise.race([ready, new Promise((resolve) => setTimeout(resolve, 5000))]);

  const prefix = options.redisKeyPrefix ?? "";
  const redis = options.redisUrl
    ? new Redis(options.redisUrl, { keyPrefix: prefix, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: (times) => Math.min(times * 200, 1000) })
    : null;
  redis?.on("error", () => undefined);
  const piscina = createWorkerPool({ threads: options.workers, data: { databaseUrl: options.databaseUrl, redisUrl: options.redisUrl, redisKeyPrefix: prefix } });
  const local = new Map<string, LocalState>();

  const leaders = definitions.map((definition, i) => {
    const module = options.projections[i]!;
    const views: ViewsState = { dirty: false };
    return runWhileLeader({
      connectionString: options.databaseUrl,
      projection: definition.name,
      signal,
      logger,
      ...(options.leaderRetryMs === undefined ? {} : { retryMs: options.leaderRetryMs }),
      lead: async (leaderSignal) => {
        local.set(definition.name, "leading");
        const loop = new ProjectionLoop(definition, module, {
          piscina,
          pool,
          logger,
          store,
          batchSize: options.batchSize ?? 1000,
          maxInFlight: options.maxInFlight ?? 4,
          onProgress: (position) => progress.advance(definition.name, definition.version, position),
          onViewsFailed: () => (views.dirty = true),
        });
        try {
          await leadProjection({ loop, pool, redis, logger, views, signal: leaderSignal });
          local.set(definition.name, "standby");
        } catch (error) {
          local.set(definition.name, "failed");
          logger.error({ projection: definition.name, error: (error as Error).message }, "projection failed; holding leadership until stopped");
          await new Promise((resolve) => leaderSignal.addEventListener("abort", resolve, { once: true }));
        }
      },
    });
  });

  const status = (): Promise<{ items: ProjectionStatusItem[] }> => projectionStatus({ pool, store, definitions, local });
  return {
    progress,
    activeVersions,
    status,
    routes: projectionStatusRoutes(status),
    async stop() {
      stopping.abort(new Error("projections stopping"));
      await Promise.allSettled([...leaders, listener]);
      await piscina.destroy();
      redis?.disconnect();
    },
  };
}
