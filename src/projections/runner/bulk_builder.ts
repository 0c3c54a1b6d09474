/**
 * The main thread's side of bulk builds (src/projections/bulk/): decides when a loop is far
 * enough behind to build in bulk first, runs the build on a pool of its own (a build is one
 * long task per thread; the live tasks of other projections keep their own pool), relays
 * its progress, and stops it on abort. PostgreSQL stores only: a build reads the events
 * table itself.
 */
import { MessageChannel } from "node:worker_threads";
import type { Piscina } from "piscina";
import type { Pool } from "../../db/pool.ts";
import { VISIBLE } from "../../event_store/postgres.ts";
import { comparePositions, encodePosition, parsePosition, type Position } from "../../shared/position.ts";
import { MAX_GROUP } from "../bulk/build.ts";
import type { ProjectionModuleRef } from "../define.ts";
import type { BuildProgressMessage, BuildTask, BuildTaskResult } from "../../../workers/bulk_build_worker.ts";
import type { ProjectionWorkerData } from "../../../workers/projection_worker.ts";
import { growHeapsForBuild } from "../../runtime/heap_growth.ts";
import { createBulkBuildPool } from "./worker_pool.ts";

/** A loop at least this many events behind the head builds in bulk first. */
export const BULK_MIN_EVENTS = 20_000;

/**
 * Build tasks run at once for `workers` projection worker threads: half, at least one. A build
 * keeps about 1.6 cores busy with PostgreSQL and Redis (one at a time on 2 cores: 51 s at
 * 416 MiB for a 1M-event catch-up, against 49.5 s at 577 MiB for two at once).
 */
export function buildThreads(workers: number): number {
  return Math.max(1, Math.floor(workers / 2));
}

/** How bulk builds run: the backlog from which a loop builds in bulk, and the builds' flush sizes (see build.ts). */
export interface BulkTuning {
  minEvents?: number;
  flushEvents?: number;
  flushRows?: number;
  flushNewRows?: number;
  cachedRows?: number;
  holdEvents?: number;
}

export interface BulkRun {
  module: ProjectionModuleRef;
  version: number;
  /** Where the version stands (its watermark): builds that start from the same position run together. */
  after: Position;
  through: Position;
  views: boolean;
  viewsFresh: boolean;
  signal: AbortSignal;
  onProgress(position: Position, consumed: number): void;
  /** Events read and folded so far, not yet flushed (for progress displays). */
  onReading?(consumed: number): void;
  /** Views stopped being written during the build (they need restoring from the rows). */
  onViewsFailed(): void;
}

/** A build that failed: `kind` as the worker classified it (see BuildTaskResult); `viewsAhead`: views went out for rows that did not commit. */
export class BulkBuildError extends Error {
  readonly kind: "moved" | "connection" | "failed";
  readonly viewsAhead: boolean;
  constructor(kind: "moved" | "connection" | "failed", message: string, viewsAhead: boolean) {
    super(message);
    this.kind = kind;
    this.viewsAhead = viewsAhead;
  }
}

export interface BulkOutcome {
  position: Position;
  consumed: number;
  events: number;
  rowsWritten: number;
  flushes: number;
  viewsFailed: boolean;
  /** Projections built in the same task (one read of the log for all). */
  together: number;
}

export interface BulkBuilder {
  /** Events behind the head from which a loop builds in bulk first. */
  readonly minEvents: number;
  /** Runs a build up to `through` (see build.ts); on abort it stops after the chunk in progress and resolves with the last flush. */
  run(request: BulkRun): Promise<BulkOutcome>;
  /**
   * Announces a loop that is about to say whether it builds (the loops a process starts
   * together): builds wait for every announced loop to ask for one or to call the returned
   * function (idempotent), GROUP_MAX_WAIT_MS at most from the first request.
   */
  expect(): () => void;
  destroy(): Promise<void>;
}

/**
 * How long a build waits for others that start from the same position before it runs: the
 * loops of a process start together (a fresh database, a restart after an outage, `replay
 * all`), and builds run together read and decode the log once for all of them.
 */
export const GROUP_WAIT_MS = 250;

/**
 * The longest a request waits for announced loops (expect()) that have not said yet whether
 * they build; then the announcements lapse. The loops of a service get ready one by one
 * (leadership, a clear of the version's Redis key space, the backlog query): with a Redis of
 * 4.2M keys they asked 5-8 s apart and did not build together, each group reading the whole
 * log (a 1M-event catch-up: 38.9 s with one build apart, 44.9 s under a profiler with all
 * three apart, against 34.5 s together).
 */
export const GROUP_MAX_WAIT_MS = 3000;

interface Pending {
  request: BulkRun;
  resolve(outcome: BulkOutcome): void;
  reject(error: unknown): void;
}

/**
 * A bulk builder on a pool of up to `threads` threads (started on demand). Builds asked for
 * within GROUP_WAIT_MS of each other that start from the same position run as one task (up to
 * MAX_GROUP projections), one read of the log for all; the others wait for a thread.
 */
export function createBulkBuilder(options: { threads: number; data: ProjectionWorkerData; tuning?: BulkTuning }): BulkBuilder {
  let piscina: Piscina | null = null;
  const { minEvents, ...flushes } = options.tuning ?? {};
  const threads = Math.max(1, options.threads);
  const queue: Pending[] = [];
  let running = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  /** Announced loops that have not said yet whether they build (lapsed ones are dropped), and when the oldest waiting request came. */
  const undecided = new Set<object>();
  let firstQueuedAt = 0;

  /** Sets the timer for the queue's next dispatch (GROUP_WAIT_MS after its first request; longer while announced loops are undecided). */
  const arm = (): void => {
    if (timer !== null || queue.length === 0) return;
    const waited = performance.now() - firstQueuedAt;
    const wait = (undecided.size > 0 ? GROUP_MAX_WAIT_MS : GROUP_WAIT_MS) - waited;
    timer = setTimeout(() => {
      timer = null;
      // Waited as long as it may: announcements not answered by now lapse (a loop that never asks does not slow later builds).
      undecided.clear();
      dispatch();
    }, Math.max(0, wait));
  };

  /** Starts groups while threads are free (a stopped build has left the queue already). */
  const dispatch = (): void => {
    while (running < threads && queue.length > 0) {
      const from = encodePosition(queue[0]!.request.after);
      const group = queue.filter((pending) => encodePosition(pending.request.after) === from).slice(0, MAX_GROUP);
      for (const pending of group) queue.splice(queue.indexOf(pending), 1);
      running++;
      void runGroup(group).finally(() => {
        running--;
        dispatch();
      });
    }
  };

  const runGroup = async (group: Pending[]): Promise<void> => {
    piscina ??= createBulkBuildPool({ threads, data: options.data });
    const channels = group.map(({ request }) => {
      const channel = new MessageChannel();
      channel.port1.on("message", (message: BuildProgressMessage) => {
        if ("viewsFailed" in message) return request.onViewsFailed();
        if ("reading" in message) return request.onReading?.(message.reading);
        const position = parsePosition(message.position);
        if (position) request.onProgress(position, message.consumed);
      });
      const stop = (): void => channel.port1.postMessage("stop");
      if (request.signal.aborted) stop();
      else request.signal.addEventListener("abort", stop, { once: true });
      return { channel, stop };
    });
    let through = group[0]!.request.through;
    for (const { request } of group) if (comparePositions(request.through, through) > 0) through = request.through;
    const task: BuildTask = {
      through: encodePosition(through),
      members: group.map(({ request }, i) => ({ module: request.module, version: request.version, views: request.views, viewsFresh: request.viewsFresh, ...flushes, port: channels[i]!.channel.port2 })),
    };
    // Heaps grow by a set factor while builds run (see growHeapsForBuild).
    const release = growHeapsForBuild();
    try {
      const answers = (await piscina.run(task, { transferList: channels.map(({ channel }) => channel.port2) })) as BuildTaskResult[];
      group.forEach((pending, i) => {
        const answer = answers[i]!;
        if (!answer.ok) return pending.reject(new BulkBuildError(answer.kind, answer.message, answer.viewsAhead));
        const result = answer.result;
        pending.resolve({
          position: parsePosition(result.position)!,
          consumed: result.consumed,
          events: result.events,
          rowsWritten: result.rowsWritten,
          flushes: result.flushes,
          viewsFailed: result.viewsFailed,
          together: group.length,
        });
      });
    } catch (error) {
      // The thread died under the task: no member knows what it did.
      for (const pending of group) pending.reject(error);
    } finally {
      release();
      group.forEach(({ request }, i) => {
        request.signal.removeEventListener("abort", channels[i]!.stop);
        channels[i]!.channel.port1.close();
      });
    }
  };

  return {
    minEvents: minEvents ?? BULK_MIN_EVENTS,
    run(request) {
      return new Promise<BulkOutcome>((resolve, reject) => {
        if (queue.length === 0) firstQueuedAt = performance.now();
        queue.push({ request, resolve, reject });
        // Stopped while it waits: it leaves the queue (its group may still form without it).
        request.signal.addEventListener(
          "abort",
          () => {
            const index = queue.findIndex((pending) => pending.request === request);
            if (index >= 0) {
              queue.splice(index, 1);
              reject(request.signal.reason);
            }
          },
          { once: true },
        );
        arm();
      });
    },
    expect() {
      const loop = {};
      undecided.add(loop);
      return () => {
        if (!undecided.delete(loop) || undecided.size > 0 || timer === null) return;
        clearTimeout(timer);
        timer = null;
        arm();
      };
    },
    async destroy() {
      if (timer !== null) clearTimeout(timer);
      for (const pending of queue.splice(0, queue.length)) pending.reject(new Error("bulk builder destroyed"));
      await piscina?.destroy();
      piscina = null;
    },
  };
}

/** Events of the log after `position` that readers can see, counted up to `limit`. */
export async function visibleEventsAfter(pool: Pool, position: Position, limit: number): Promise<number> {
  const result = await pool.query<{ count: string }>(
    `SELECT count(*) AS count FROM (
       SELECT 1 FROM events
        WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
          AND ${VISIBLE}
        ORDER BY transaction_id, global_position LIMIT $3) AS behind`,
    [position.commit.toString(), position.prepare.toString(), limit],
  );
  return Number(result.rows[0]?.count ?? 0);
}
