/**
 * Blue/green replay: rebuilds a projection from position 0 with the definition in code
 * into a new physical version (own tables and Redis key space) while the serving version
 * keeps serving and following live events. Bulk mode: large batches, multi-row writes,
 * every given worker busy, secondary indexes built once the load reached the head. When
 * caught up it switches the serving version atomically (NOTIFY reaches every process; the
 * live leader then follows the new version) and retires the old one for a grace period.
 * Resumable from the new version's checkpoints; one replay per projection (advisory lock).
 * Side effects are never fired by a replay.
 */
import { Redis } from "ioredis";
import type { Piscina } from "piscina";
import type { Logger } from "pino";
import type { Pool } from "../../db/pool.ts";
import type { EventStore } from "../../event_store/types.ts";
import { NotFoundError } from "../../shared/errors.ts";
import { comparePositions } from "../../shared/position.ts";
import type { ProjectionModuleRef } from "../define.ts";
import { sleep } from "./backoff.ts";
import { leaderExists } from "./leadership.ts";
import { loadDefinitions } from "./load_definition.ts";
import { ProjectionLoop } from "./projection_loop.ts";
import { prepareBuild, trySwitch, type Build } from "./replay_build.ts";
import { acquireReplayLock, type ReplayLock } from "./replay_lock.ts";
import { ProgressLine } from "./replay_progress.ts";
import { dropVersion, dropVersionKeys } from "./retire.ts";
import { buildIndexes } from "./schema.ts";
import { groupDefinitions, resolveServing, type ProjectionFamily } from "./versions.ts";
import { closeViewsSession, openViewsSession, restoreViews } from "./views_restore.ts";
import { createWorkerPool } from "./worker_pool.ts";
import { REPLAY_NICENESS } from "../../runtime/priority.ts";
import { buildThreads, createBulkBuilder, type BulkBuilder, type BulkTuning } from "./bulk_builder.ts";
import type { ProjectionWorkerData } from "../../../workers/projection_worker.ts";

/** What every entry point of the projection engine works on: the stores and the projection modules. */
export interface RunnerContext {
  pool: Pool;
  databaseUrl: string;
  store: EventStore;
  redisUrl: string | null;
  redisKeyPrefix?: string;
  projections: ProjectionModuleRef[];
  logger: Logger;
}

export interface ReplayOptions extends RunnerContext {
  name: string;
  /** Worker threads for the bulk load (in a running service: its workers minus one). */
  workers: number;
  /** Progress output: a live bar on a TTY, plain lines otherwise; none when omitted. */
  out?: NodeJS.WritableStream;
  /** Aborting stops the replay; its checkpoints stay, so running it again resumes. */
  signal?: AbortSignal;
  /** Events per batch (default 10,000). */
  batchSize?: number;
  /** How long the old version stays after the switch (default 60 s). */
  graceMs?: number;
  /** "wait": wait the grace period and drop the old version; "leave": leave it to the live leader. Default: "leave" when a leader runs, else "wait". */
  dropOld?: "wait" | "leave";
  /** Scheduling niceness of the replay's worker threads (default REPLAY_NICENESS: live work first). */
  niceness?: number;
  /** A worker pool shared with other replays of this process (runReplays); not destroyed here. Default: a pool of `workers` threads of its own. */
  piscina?: Piscina;
  /** Batches in flight at once (default: twice the workers, at least 2). */
  maxInFlight?: number;
  /** Bulk builds shared with other replays of this process (runReplays); not destroyed here. Default: one of its own on PostgreSQL stores. */
  bulk?: BulkBuilder | null;
  /** How its bulk builds run (default: from BULK_MIN_EVENTS events on, flush sizes of build.ts). */
  bulkTuning?: BulkTuning;
  /** Reading the log waits for this (runReplays: until every replay is ready, so their bulk builds start together and share one read). */
  startAfter?: Promise<void>;
}

export interface ReplayResult {
  version: number;
  /** The version that served before the switch. */
  previous: number;
  /** Events consumed by this run (a resumed replay counts only what it did). */
  events: number;
  /** Events the version had consumed before this run (0 unless resumed). */
  resumedFrom: number;
  seconds: number;
}

export interface ReplayHandle {
  name: string;
  version: number;
  resumed: boolean;
  /** Settles when the replay switched over (and dropped the old version when asked to wait). */
  done: Promise<ReplayResult>;
  /** Resolves when the replay is ready to read the log (its keys cleared), or has ended. */
  ready: Promise<void>;
}

const DEFAULT_GRACE_MS = 60_000;

/** What a replay's worker threads are given: its stores, at the replay niceness. */
function replayWorkerData(options: Omit<ReplayOptions, "name">): ProjectionWorkerData {
  const niceness = options.niceness ?? REPLAY_NICENESS;
  // The rebuild's PostgreSQL backends yield to live work too, where they can be reniced.
  return { databaseUrl: options.databaseUrl, redisUrl: options.redisUrl, redisKeyPrefix: options.redisKeyPrefix ?? "", niceness, backendNiceness: niceness };
}

/** A worker pool for replays: `workers` threads at the replay niceness. */
function replayPool(options: Omit<ReplayOptions, "name">): Piscina {
  return createWorkerPool({ threads: Math.max(1, options.workers), data: replayWorkerData(options) });
}

/** Bulk builds for replays (PostgreSQL stores only): up to `threads` at once, at the replay niceness. */
function replayBulk(options: Omit<ReplayOptions, "name">, threads: number): BulkBuilder | null {
  if (options.store.kind !== "postgres") return null;
  return createBulkBuilder({ threads, data: replayWorkerData(options), ...(options.bulkTuning ? { tuning: options.bulkTuning } : {}) });
}

/**
 * Replays several projections at once in this process, in one pass over the log: the
 * replays read it through the store's shared window (read and decoded once while they move
 * together) and share one worker pool of `workers` threads. Each keeps its own lock,
 * checkpoints and switch. When one fails the others stop too (their checkpoints stay: running
 * the command again resumes every one); resolves with the results in the order given.
 * Progress is printed as plain lines, one per replay (a single bar cannot show several).
 */
export async function runReplays(options: Omit<ReplayOptions, "name" | "piscina"> & { names: readonly string[] }): Promise<ReplayResult[]> {
  const names = [...new Set(options.names)];
  // Every name known before any replay starts (each also checks its own).
  const known = groupDefinitions(await loadDefinitions(options.projections), options.projections).map((family) => family.name);
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length > 0) throw new NotFoundError(`Unknown projection ${unknown.join(", ")}`);
  if (names.length === 1) return [await runReplay({ ...options, name: names[0]! })];
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const out = options.out;
  const plain: NodeJS.WritableStream | undefined = out && ({ write: (chunk: string) => out.write(chunk) } as unknown as NodeJS.WritableStream);
  const piscina = replayPool(options);
  const bulk = replayBulk(options, buildThreads(options.workers));
  const handles: ReplayHandle[] = [];
  // The replays read the log once all are ready (locks taken, versions prepared, keys cleared):
  // their bulk builds are then asked for together and run as one (one read of the log).
  let startAll!: () => void;
  const startAfter = new Promise<void>((resolve) => (startAll = resolve));
  try {
    for (const name of names) handles.push(await beginReplay({ ...options, name, signal, piscina, bulk, startAfter, ...(plain ? { out: plain } : {}) }));
    await Promise.all(handles.map((handle) => handle.ready));
    startAll();
    const settled = await Promise.allSettled(
      handles.map((handle) =>
        handle.done.catch((error: unknown) => {
          stop.abort(error);
          throw error;
        }),
      ),
    );
    const failed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === "rejected");
    if (failed) throw failed.reason;
    return settled.map((outcome) => (outcome as PromiseFulfilledResult<ReplayResult>).value);
  } catch (error) {
    // One could not start (unknown name, already running elsewhere) or one failed: stop the rest.
    startAll();
    stop.abort(error);
    await Promise.allSettled(handles.map((handle) => handle.done));
    throw error;
  } finally {
    await piscina.destroy();
    await bulk?.destroy();
  }
}

/** Takes the replay lock, prepares (or resumes) the target version and starts the replay; throws NotFoundError or ReplayRunningError. */
export async function beginReplay(options: ReplayOptions): Promise<ReplayHandle> {
  const families = groupDefinitions(await loadDefinitions(options.projections), options.projections);
  const family = families.find((candidate) => candidate.name === options.name);
  if (!family) throw new NotFoundError(`Unknown projection ${options.name}`);
  const lock = await acquireReplayLock(options.databaseUrl, family.name);
  let build: Build;
  try {
    await resolveServing(options.pool, family);
    build = await prepareBuild(options.pool, options.store, family.current);
  } catch (error) {
    await lock.release();
    throw error;
  }
  options.logger.info({ projection: family.name, version: build.version, resumed: build.resumed }, build.resumed ? "resuming replay" : "starting replay");
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const done = execute(options, family, build, lock, markReady);
  done.catch(() => undefined);
  void done.finally(markReady).catch(() => undefined);
  return { name: family.name, version: build.version, resumed: build.resumed, done, ready };
}

/** Replays a projection into its next version and switches over (see the module comment); resolves when done. */
export async function runReplay(options: ReplayOptions): Promise<ReplayResult> {
  return (await beginReplay(options)).done;
}

async function execute(options: ReplayOptions, family: ProjectionFamily, build: Build, lock: ReplayLock, markReady: () => void): Promise<ReplayResult> {
  const { pool, store, logger } = options;
  const definition = family.current;
  const { version } = build;
  const started = performance.now();
  const prefix = options.redisKeyPrefix ?? "";
  // commandTimeout: a Redis that stops answering fails the views write (retried next round)
  // instead of hanging it, and with it the other restores of this process, which take turns.
  const redis = options.redisUrl ? new Redis(options.redisUrl, { keyPrefix: prefix, maxRetriesPerRequest: 2, commandTimeout: 10_000 }) : null;
  redis?.on("error", () => undefined);
  // The rebuild yields the CPU to live work: its threads run at niceness 10.
  const piscina = options.piscina ?? replayPool(options);
  const bulk = options.bulk === undefined ? replayBulk(options, 1) : options.bulk;
  const stopLoop = new AbortController();
  // The replay's Redis views need writing from the rows: with bulk builds (which write them
  // as they go) only when a run before this one may have left some ahead of its rows (it
  // stopped between writing them and committing); without, all of them (deferred during the
  // load). And whenever a later write failed.
  let viewsDirty = definition.views !== undefined && (bulk === null || build.resumed);
  const outer = AbortSignal.any([lock.lost, ...(options.signal ? [options.signal] : [])]);
  const loop = new ProjectionLoop(definition, family.module, {
    piscina,
    pool,
    logger,
    store,
    version,
    live: false,
    // Without bulk builds, views are written once, from the finished rows, just before the switch.
    views: bulk ? "write" : "defer",
    ...(bulk ? { bulk } : {}),
    batchSize: options.batchSize ?? 10_000,
    maxInFlight: options.maxInFlight ?? Math.max(2, options.workers * 2),
    onProgress: () => undefined,
    onViewsFailed: () => (viewsDirty = true),
  });
  // A bulk build writes the views as it goes, into a key space cleared first: a session over
  // all of it, completed (sentinel "1") before the switch if Redis kept everything written.
  let viewsSession: string | null = null;
  if (redis && definition.views && !build.resumed) {
    // A new physical version owns its key space: clear what an earlier database may have left there.
    try {
      await dropVersionKeys(redis, definition.name, version);
      loop.markViewsCleared();
      if (bulk) viewsSession = await openViewsSession(redis, definition, version);
    } catch {
      viewsDirty = true;
    }
  }
  markReady();
  if (options.startAfter) {
    const start = options.startAfter;
    await new Promise<void>((resolve) => {
      if (outer.aborted) return resolve();
      outer.addEventListener("abort", () => resolve(), { once: true });
      void start.then(resolve);
    });
  }
  const running = loop.run(AbortSignal.any([stopLoop.signal, outer]));
  running.catch(() => undefined);
  let line: ProgressLine | null = null;
  let previous: number | null = null;
  let resumedFrom = 0;
  try {
    while (loop.state === "starting" && !loop.progressKnown) await sleep(20, outer);
    // What earlier runs had consumed (not loop.consumed now: batches may have committed already).
    resumedFrom = loop.resumedFrom;
    if (options.out) line = new ProgressLine({ out: options.out, label: `replay ${definition.name} v${version}`, total: build.total, startDone: resumedFrom });
    // The bulk build (most of a replay) runs while the loop is still "starting": its progress shows as it goes.
    while (loop.state === "starting") {
      line?.update(loop.read);
      await sleep(100, outer);
    }
    let indexesBuilt = build.indexesBuilt;
    while (previous === null) {
      await Promise.race([sleep(100, outer), running]);
      if (loop.state === "failed" || loop.state === "stopped") await running;
      outer.throwIfAborted();
      line?.update(loop.read);
      const head = await store.headPosition();
      if (head && comparePositions(loop.position, head) < 0) continue;
      if (!indexesBuilt) {
        await buildIndexes(pool, definition, version);
        indexesBuilt = true;
        logger.info({ projection: definition.name, version }, "replay reached the head; secondary indexes built");
        continue;
      }
      // Views were deferred during the load: from here on batches write them, and the rows
      // loaded so far get theirs once (again if a later batch failed to write its own),
      // while nothing is in flight; then the switch, under the same pause.
      loop.stopDeferringViews();
      const resume = await loop.pause();
      try {
        if (!viewsDirty && redis && viewsSession !== null) {
          // Complete unless Redis lost data meanwhile; then restored from the rows like any dirty views.
          if (!(await closeViewsSession(redis, definition, version, viewsSession).catch(() => false))) viewsDirty = true;
          viewsSession = null;
        }
        if (viewsDirty && redis) {
          try {
            await restoreViews(pool, redis, definition, version);
            viewsDirty = false;
            await pool.query("UPDATE projections SET views_dirty = false WHERE name = $1 AND version = $2", [definition.name, version]);
            logger.info({ projection: definition.name, version }, "replay wrote its Redis views");
          } catch (error) {
            // Redis down or flushed midway: the next round writes them again.
            logger.warn({ projection: definition.name, version, error: (error as Error).message }, "writing the replay's Redis views failed; will retry");
          }
        }
        if (!viewsDirty || !redis) previous = await trySwitch(pool, definition.name, version, options.graceMs ?? DEFAULT_GRACE_MS);
      } finally {
        if (previous !== null) stopLoop.abort(new Error("replay switched over"));
        resume();
      }
    }
    await running;
    line?.update(loop.consumed, true);
    line?.finish(`replay ${definition.name}: v${version} is serving (was v${previous})`);
    logger.info({ projection: definition.name, version, previous, events: loop.consumed - resumedFrom }, "replay switched the serving version");
  } catch (error) {
    stopLoop.abort(error);
    await running.catch(() => undefined);
    line?.finish(`replay ${definition.name} v${version} stopped: ${(error as Error).message} (run it again to resume)`);
    throw error;
  } finally {
    // The loop has ended (awaited above): the lock goes first, so that a replay asked for just
    // after the switch is not refused while this one's threads wind down (~0.4 s).
    await lock.release();
    if (!options.piscina) await piscina.destroy();
    if (options.bulk === undefined) await bulk?.destroy();
  }
  const result: ReplayResult = { version, previous, events: loop.consumed - resumedFrom, resumedFrom, seconds: (performance.now() - started) / 1000 };
  try {
    const dropOld = options.dropOld ?? ((await leaderExists(pool, definition.name)) ? "leave" : "wait");
    if (dropOld === "wait" && previous !== version) {
      const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
      options.out?.write(`dropping v${previous} of ${definition.name} after the grace period (${Math.round(graceMs / 1000)} s)\n`);
      await sleep(graceMs, options.signal);
      const row = await pool.query<{ tables: string[] | null; state: string }>("SELECT tables, state FROM projections WHERE name = $1 AND version = $2", [definition.name, previous]);
      if (row.rows[0]?.state === "retired") await dropVersion({ pool, redis, definition, version: previous, tables: row.rows[0].tables });
    }
  } finally {
    redis?.disconnect();
  }
  return result;
}
