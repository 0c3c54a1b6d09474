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
import { encodePosition, parsePosition, type Position } from "../../shared/position.ts";
import type { ProjectionModuleRef } from "../define.ts";
import type { BuildProgressMessage, BuildTask, BuildTaskResult } from "../../../workers/bulk_build_worker.ts";
import type { ProjectionWorkerData } from "../../../workers/projection_worker.ts";
import { liftHeapGrowthCap } from "../../runtime/heap_growth.ts";
import { createBulkBuildPool } from "./worker_pool.ts";

/** A loop at least this many events behind the head builds in bulk first. */
export const BULK_MIN_EVENTS = 20_000;

/** How bulk builds run: the backlog from which a loop builds in bulk, and the builds' flush sizes (see build.ts). */
export interface BulkTuning {
  minEvents?: number;
  flushEvents?: number;
  flushRows?: number;
  cachedRows?: number;
}

export interface BulkRun {
  module: ProjectionModuleRef;
  version: number;
  through: Position;
  views: boolean;
  viewsFresh: boolean;
  signal: AbortSignal;
  onProgress(position: Position, consumed: number): void;
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
}

export interface BulkBuilder {
  /** Events behind the head from which a loop builds in bulk first. */
  readonly minEvents: number;
  /** Runs a build up to `through` (see build.ts); on abort it stops after the chunk in progress and resolves with the last flush. */
  run(request: BulkRun): Promise<BulkOutcome>;
  destroy(): Promise<void>;
}

/** A bulk builder on a pool of up to `threads` threads (started on demand). */
export function createBulkBuilder(options: { threads: number; data: ProjectionWorkerData; tuning?: BulkTuning }): BulkBuilder {
  let piscina: Piscina | null = null;
  const { minEvents, ...flushes } = options.tuning ?? {};
  return {
    minEvents: minEvents ?? BULK_MIN_EVENTS,
    async run(request) {
      piscina ??= createBulkBuildPool({ threads: options.threads, data: options.data });
      const channel = new MessageChannel();
      channel.port1.on("message", (message: BuildProgressMessage) => {
        if ("viewsFailed" in message) return request.onViewsFailed();
        const position = parsePosition(message.position);
        if (position) request.onProgress(position, message.consumed);
      });
      const stop = (): void => channel.port1.postMessage("stop");
      if (request.signal.aborted) stop();
      else request.signal.addEventListener("abort", stop, { once: true });
      const task: BuildTask = {
        module: request.module,
        version: request.version,
        through: encodePosition(request.through),
        views: request.views,
        viewsFresh: request.viewsFresh,
        ...flushes,
        port: channel.port2,
      };
      // V8 sizes heaps by its own heuristic while builds run (see liftHeapGrowthCap).
      const release = liftHeapGrowthCap();
      try {
        const answer = (await piscina.run(task, { transferList: [channel.port2] })) as BuildTaskResult;
        if (!answer.ok) throw new BulkBuildError(answer.kind, answer.message, answer.viewsAhead);
        const result = answer.result;
        return {
          position: parsePosition(result.position)!,
          consumed: result.consumed,
          events: result.events,
          rowsWritten: result.rowsWritten,
          flushes: result.flushes,
          viewsFailed: result.viewsFailed,
        };
      } finally {
        release();
        request.signal.removeEventListener("abort", stop);
        channel.port1.close();
      }
    },
    async destroy() {
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
          AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY transaction_id, global_position LIMIT $3) AS behind`,
    [position.commit.toString(), position.prepare.toString(), limit],
  );
  return Number(result.rows[0]?.count ?? 0);
}
