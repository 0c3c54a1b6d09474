/**
 * Entry point for the composition root: starts the projection engine (leadership per
 * projection, consumption loops on a worker pool, Redis view restore, progress
 * notifications, replays started over HTTP) and returns what the query side and operators need.
 */
import { Redis } from "ioredis";
import { isConnectionError } from "../../db/pool.ts";
import type { ActiveVersions, ProgressWaiter } from "../../shared/read_models.ts";
import type { RouteModule } from "../../http/route_module.ts";
import { backoffMs, sleep } from "./backoff.ts";
import { buildThreads, createBulkBuilder, type BulkTuning } from "./bulk_builder.ts";
import { leadFamily } from "./lead_family.ts";
import { runWhileLeader } from "./leadership.ts";
import { loadDefinitions } from "./load_definition.ts";
import { ActiveVersionTable, ProgressTracker } from "./progress.ts";
import { beginReplay, type RunnerContext } from "./replay.ts";
import { projectionReplayRoutes, type ReplayAccepted } from "./replay_routes.ts";
import { projectionStatus, type LocalState, type ProjectionStatusItem } from "./status.ts";
import { projectionStatusRoutes } from "./status_routes.ts";
import { groupDefinitions, resolveServing } from "./versions.ts";
import { createWorkerPool } from "./worker_pool.ts";

/**
 * Scheduling niceness of the live projection worker threads: when the cores are busy, the
 * thread that answers HTTP runs first. On 2 cores (mixed 90/10 at 1,000 req/s) the first
 * runs looked better (read p99 23.5 / 28.1 ms at 0, 20.5 / 20.8 ms at 5), but five later runs
 * at 5 spread over 18–34 ms, so the effect on the tail is not shown; freshness p99 went
 * 27 -> 37 ms (goal 50). Where cores are free it changes nothing. (A replay's workers run at 10.)
 */
const LIVE_WORKER_NICENESS = 5;

export interface StartProjectionsOptions extends RunnerContext {
  workers: number;
  batchSize?: number;
  /**
   * Events per batch while a fresh projection builds over a backlog (default 10,000: as fast
   * as 20,000 over 1,000,000 events, and with the shared read window of 10,000 it holds the
   * main thread's live heap to about half).
   */
  bulkBatchSize?: number;
  /** Bulk builds of a projection far behind at start (default: BULK_MIN_EVENTS behind, flush sizes of build.ts). */
  bulk?: BulkTuning;
  /** Batches in flight per projection (default 2). */
  maxInFlight?: number;
  /** Standby retry interval for leadership (default 1000 ms). */
  leaderRetryMs?: number;
  /** How long a replaced version stays after a replay switched over, for requests in flight (default 60 s). */
  replayGraceMs?: number;
  /** How often the leader drops retired versions whose grace period is over (default 1000 ms). */
  janitorMs?: number;
}

export interface Projections {
  progress: ProgressWaiter;
  activeVersions: ActiveVersions;
  status(): Promise<{ items: ProjectionStatusItem[] }>;
  /** Whether a projection's Redis views are complete: null unless this process leads it and it has views in Redis. */
  viewsReady(name: string): boolean | null;
  /** Starts a replay in the background (what POST /v1/projections/{name}/replay does); throws NotFoundError / ReplayRunningError. */
  startReplay(name: string): Promise<ReplayAccepted>;
  /** GET /v1/projections and POST /v1/projections/{name}/replay. */
  routes: RouteModule;
  stop(): Promise<void>;
}

/** Starts every projection (leading those whose lock it gets) and resolves once progress is being listened to. */
export async function startProjections(options: StartProjectionsOptions): Promise<Projections> {
  const { pool, logger, store } = options;
  const families = groupDefinitions(await loadDefinitions(options.projections), options.projections);
  const initial = new Map<string, number>();
  for (const family of families) initial.set(family.name, (await resolveServing(pool, family)).physical);
  const activeVersions = new ActiveVersionTable(initial);
  await activeVersions.refresh(pool);
  const progress = new ProgressTracker(activeVersions);
  const stopping = new AbortController();
  const signal = stopping.signal;

  let listening!: () => void;
  const ready = new Promise<void>((resolve) => (listening = resolve));
  const listener = progress.listen({ connectionString: options.databaseUrl, pool, signal, logger, active: activeVersions, onListening: () => listening() });
  await Promise.race([ready, new Promise((resolve) => setTimeout(resolve, 5000))]);

  const prefix = options.redisKeyPrefix ?? "";
  const redis = options.redisUrl
    ? // commandTimeout: a stalled Redis fails a views restore page (which holds the live loop) instead of hanging it.
      new Redis(options.redisUrl, { keyPrefix: prefix, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000, retryStrategy: (times) => Math.min(times * 200, 1000) })
    : null;
  redis?.on("error", () => undefined);
  const workerData = { databaseUrl: options.databaseUrl, redisUrl: options.redisUrl, redisKeyPrefix: prefix, niceness: LIVE_WORKER_NICENESS };
  const piscina = createWorkerPool({ threads: options.workers, data: workerData });
  // Bulk builds (a projection far behind at start, e.g. a new one over a long history) run on
  // threads of their own, started only while a build runs, at normal priority: a build is the
  // catch-up's critical path, and at niceness 5 its thread lost the cores to its own heap's
  // collector threads and to PostgreSQL (with the heap growth of growHeapsForBuild, a 1M-event
  // catch-up went 46.4-49.7 -> 42.5-46.1 s in alternating runs). HTTP keeps an equal share.
  const bulk = store.kind === "postgres" ? createBulkBuilder({ threads: buildThreads(options.workers), data: { ...workerData, niceness: 0 }, ...(options.bulk ? { tuning: options.bulk } : {}) }) : null;
  const local = new Map<string, LocalState>();
  const viewsReady = new Map<string, () => boolean>();
  // The loops started here build together when they all build from the same position (one
  // read of the log): a build waits for each of them to ask for one or decide not to.
  const bulkDecided = new Map(bulk ? families.map((family) => [family.name, bulk.expect()] as const) : []);
  const deps = { pool, logger, store, piscina, bulk, bulkDecided, redis, progress, activeVersions, local, viewsReady, batchSize: options.batchSize ?? 2000, bulkBatchSize: options.bulkBatchSize ?? 10_000, maxInFlight: options.maxInFlight ?? 2, janitorMs: options.janitorMs ?? 1000 };

  const leaders = families.map((family) =>
    runWhileLeader({
      connectionString: options.databaseUrl,
      projection: family.name,
      signal,
      logger,
      ...(options.leaderRetryMs === undefined ? {} : { retryMs: options.leaderRetryMs }),
      lead: (leaderSignal) => leadFamily(deps, family, leaderSignal),
      notLeading: () => bulkDecided.get(family.name)?.(),
    }),
  );

  const replays = new Set<Promise<unknown>>();
  const begin = (name: string): ReturnType<typeof beginReplay> =>
    beginReplay({
      pool,
      databaseUrl: options.databaseUrl,
      store,
      redisUrl: options.redisUrl,
      redisKeyPrefix: prefix,
      projections: options.projections,
      name,
      workers: Math.max(1, options.workers - 1),
      logger,
      signal,
      graceMs: options.replayGraceMs ?? 60_000,
      dropOld: "leave",
    });
  /**
   * Follows a replay started over HTTP to its end. One stopped by a store outage (a dropped
   * connection, PostgreSQL restarting) resumes from its checkpoints by itself, after 1 s
   * doubling to 30 s, as the projections do: nobody is at a terminal to run it again.
   */
  const follow = async (name: string, first: Awaited<ReturnType<typeof beginReplay>>): Promise<void> => {
    let done = first.done;
    for (let failures = 0; ; failures++) {
      try {
        logger.info({ projection: name, ...(await done) }, "replay finished");
        return;
      } catch (error) {
        // A lost connection, from the replay or from starting it again: wait and resume. Anything
        // else (another process took the replay over) ends it here.
        if (signal.aborted || !isConnectionError(error)) throw error;
        const delayMs = backoffMs(failures, 30_000, 1000);
        logger.warn({ projection: name, error: (error as Error).message, retryInMs: delayMs }, "replay interrupted by a store outage; resuming it");
        await sleep(delayMs, signal).catch(() => undefined);
        if (signal.aborted) throw error;
        done = begin(name).then((handle) => handle.done);
      }
    }
  };
  const startReplay = async (name: string): Promise<ReplayAccepted> => {
    const handle = await begin(name);
    const done = follow(name, handle).catch((error: unknown) => {
      // Stopped by the service's shutdown: nothing went wrong, and it resumes when asked again.
      if (signal.aborted) logger.info({ projection: name, version: handle.version }, "replay paused by the shutdown; POST the replay again to resume it from its checkpoint");
      else logger.error({ projection: name, error: (error as Error).message }, "replay stopped; start it again to resume");
    });
    replays.add(done);
    void done.finally(() => replays.delete(done));
    return { name: handle.name, version: handle.version, status: "rebuilding" };
  };

  const status = (): Promise<{ items: ProjectionStatusItem[] }> => projectionStatus({ pool, store, definitions: families, local, announced: (name) => progress.position(name) });
  return {
    progress,
    activeVersions,
    status,
    viewsReady: (name) => viewsReady.get(name)?.() ?? null,
    startReplay,
    routes: combineRoutes(projectionStatusRoutes(status), projectionReplayRoutes(startReplay)),
    async stop() {
      stopping.abort(new Error("projections stopping"));
      await Promise.allSettled([...leaders, listener, ...replays]);
      await piscina.destroy();
      await bulk?.destroy();
      redis?.disconnect();
    },
  };
}

function combineRoutes(...modules: RouteModule[]): RouteModule {
  return {
    register(router, context) {
      for (const module of modules) module.register(router, context);
    },
    docs: modules.flatMap((module) => module.docs),
  };
}
