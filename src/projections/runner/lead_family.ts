/**
 * What the leader of one projection does: follow the serving physical version with the
 * listed definition that built it, restart on the new version when a replay switches
 * over (NOTIFY → ActiveVersionTable), drop retired versions after their grace period, and
 * refuse to apply a changed definition to tables an older one built (status "stopped").
 * A run that fails (the store went away mid-start, the log could not be read, a watermark
 * could not be written) is retried with capped backoff, status "failed" meanwhile: a fault
 * that has passed must not leave the projection behind until a restart.
 */
import type { Redis } from "ioredis";
import type { Piscina } from "piscina";
import type { Logger } from "pino";
import { isConnectionError, type Pool } from "../../db/pool.ts";
import type { EventStore } from "../../event_store/types.ts";
import { sentinelKey } from "../../shared/read_models.ts";
import { backoffMs, sleep } from "./backoff.ts";
import type { BulkBuilder } from "./bulk_builder.ts";
import { leadProjection, type ViewsState } from "./leader_session.ts";
import type { ActiveVersionTable, ProgressTracker } from "./progress.ts";
import { ProjectionLoop } from "./projection_loop.ts";
import { dropRetiredVersions } from "./retire.ts";
import type { LocalState } from "./status.ts";
import { resolveServing, type ProjectionFamily } from "./versions.ts";

export interface LeadDeps {
  pool: Pool;
  logger: Logger;
  store: EventStore;
  piscina: Piscina;
  /** Bulk builds for a projection far behind at start; null: batches only. */
  bulk: BulkBuilder | null;
  redis: Redis | null;
  progress: ProgressTracker;
  activeVersions: ActiveVersionTable;
  local: Map<string, LocalState>;
  /** Per projection this process leads: whether its Redis views are complete (none deferred, dirty or being restored). */
  viewsReady: Map<string, () => boolean>;
  /** Per projection: called when its loop asked for a bulk build or decided not to (BulkBuilder.expect's answer, which counts once). */
  bulkDecided?: ReadonlyMap<string, () => void>;
  batchSize: number;
  bulkBatchSize: number;
  maxInFlight: number;
  janitorMs: number;
}

/** Longest wait before a failed run is tried again. */
export const RETRY_CAP_MS = 30_000;

/** A run that lasted this long before failing starts the backoff over. */
const HEALTHY_RUN_MS = 60_000;

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));
}

/** Leads one projection until the leader signal aborts (see the module comment). */
export async function leadFamily(deps: LeadDeps, family: ProjectionFamily, leaderSignal: AbortSignal): Promise<void> {
  const { pool, logger, local } = deps;
  const name = family.name;
  let sweeping = false;
  const janitor = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    dropRetiredVersions({ pool, redis: deps.redis, definition: family.current }).finally(() => (sweeping = false)).then(
      (dropped) => dropped.length > 0 && logger.info({ projection: name, versions: dropped }, "dropped retired versions"),
      (error: unknown) => logger.warn({ projection: name, error: (error as Error).message }, "dropping retired versions failed; will retry"),
    );
  }, deps.janitorMs);
  let failures = 0;
  try {
    while (!leaderSignal.aborted) {
      const switched = new AbortController();
      let off = (): void => undefined;
      const signal = AbortSignal.any([leaderSignal, switched.signal]);
      const startedAt = performance.now();
      try {
        const serving = await resolveServing(pool, family);
        off = deps.activeVersions.onChange((projection, version) => {
          if (projection === name && version > serving.physical) switched.abort(new Error("serving version switched"));
        });
        if (deps.activeVersions.get(name) > serving.physical) switched.abort(new Error("serving version switched"));
        if (!serving.definition || !serving.module) {
          local.set(name, "stopped");
          logger.error(
            { projection: name, servingVersion: serving.physical, builtByDefinition: serving.definitionVersion, codeDefinition: family.current.version },
            `projection ${name} is stopped: its serving tables (v${serving.physical}) were built by definition version ${serving.definitionVersion}, ` +
              `the code defines version ${family.current.version}; the old tables keep serving without new events. Run \`npm run cli -- replay ${name}\``,
          );
          await aborted(signal);
          continue;
        }
        local.set(name, "leading");
        const physical = serving.physical;
        const views: ViewsState = { dirty: false };
        const loop = new ProjectionLoop(serving.definition, serving.module, {
          piscina: deps.piscina,
          ...(deps.bulk ? { bulk: deps.bulk } : {}),
          pool,
          logger,
          store: deps.store,
          version: physical,
          live: true,
          views: "defer-while-fresh",
          // A fresh version over a backlog: a restore that ran before the loop (of its empty
          // tables) may have marked its views complete; they are not while tasks skip them.
          onViewsDeferredStart: async () => {
            await deps.redis?.del(sentinelKey(name, physical)).catch(() => undefined);
          },
          onViewsDeferredEnd: () => {
            views.dirty = true;
            views.kick?.();
          },
          batchSize: deps.batchSize,
          bulkBatchSize: deps.bulkBatchSize,
          maxInFlight: deps.maxInFlight,
          onProgress: (position) => deps.progress.advance(name, physical, position),
          onViewsFailed: () => (views.dirty = true),
          ...(deps.bulkDecided?.has(name) ? { onBulkDecided: deps.bulkDecided.get(name)! } : {}),
        });
        if (deps.redis && serving.definition.views) deps.viewsReady.set(name, () => !views.dirty && !views.restoring && !loop.deferringViews && deps.redis?.status === "ready");
        await leadProjection({ loop, pool, redis: deps.redis, logger, views, signal });
        failures = 0;
        if (switched.signal.aborted && !leaderSignal.aborted) logger.info({ projection: name, from: physical }, "following the new serving version");
      } catch (error) {
        if (leaderSignal.aborted) break;
        local.set(name, "failed");
        if (performance.now() - startedAt >= HEALTHY_RUN_MS) failures = 0;
        const retryInMs = Math.max(1000, backoffMs(failures++, RETRY_CAP_MS));
        // A lost connection (a store outage) is expected to pass: a warning; anything else is an error.
        logger[isConnectionError(error) ? "warn" : "error"]({ projection: name, error: (error as Error).message, retryInMs }, "projection failed; retrying");
        await sleep(retryInMs, signal).catch(() => undefined);
      } finally {
        deps.viewsReady.delete(name);
        off();
      }
    }
  } finally {
    clearInterval(janitor);
    local.set(name, "standby");
  }
}
