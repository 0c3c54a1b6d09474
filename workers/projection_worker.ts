/**
 * Piscina entry: applies one task, one or more partitions of a batch (src/projections/runner/apply_partition.ts).
 * Each worker thread owns a small pg pool and one Redis connection for views (live_views.ts), made from workerData.
 */
import { workerData } from "node:worker_threads";
import { createPool, isConnectionError, type Pool } from "../src/db/pool.ts";
import { parsePosition } from "../src/shared/position.ts";
import { applyPartition, ViewsAheadError } from "../src/projections/runner/apply_partition.ts";
import { loadDefinition } from "../src/projections/runner/load_definition.ts";
import { TASKS_PER_WORKER } from "../src/projections/runner/worker_pool.ts";
import { lowerThreadPriority } from "../src/runtime/priority.ts";
import { decodeEvents, type PartitionTask, type TaskResult } from "../src/projections/runner/task.ts";
import { firstConnection } from "../src/projections/runner/first_connect.ts";
import { LiveViews } from "../src/projections/runner/live_views.ts";

export interface ProjectionWorkerData {
  databaseUrl: string;
  redisUrl: string | null;
  redisKeyPrefix: string;
  /** Scheduling niceness of this thread (a replay's workers yield the CPU to live work). */
  niceness?: number;
  /** Niceness for this thread's PostgreSQL backends where they run on this machine (a replay's: its writes yield to live work). */
  backendNiceness?: number;
}

const data = workerData as ProjectionWorkerData;
if (data.niceness) lowerThreadPriority(data.niceness);
let pool: Pool | null = null;
let views: LiveViews | null = null;
/** What the first tasks wait for before they write views (src/projections/runner/first_connect.ts). */
let firstConnect: Promise<void> | null = null;

function connections(): { pool: Pool; views: LiveViews | null } {
  // Synchronous commit (the default), on purpose: asynchronous task commits once lost work in a
  // crash of PostgreSQL for good (docs/architecture.md, the fault audit), and tried again they
  // saved nothing measurable (PostgreSQL CPU per order at 100 orders/s the same within the noise).
  // Generic plans for the task's prepared statements: each looks rows up by key, for which the
  // generic plan is the same index scan, and the row load (`key = ANY($1)`) otherwise stayed on
  // custom plans for good (its generic estimate of the array is costlier than the first
  // calls' one or two keys), planned again at every task: 102 of its 134 µs a task at 100
  // orders/s (pg_stat_statements with planning tracked).
  pool ??= createPool({
    connectionString: data.databaseUrl, max: TASKS_PER_WORKER, applicationName: "projection-worker",
    settings: { plan_cache_mode: "force_generic_plan" },
    ...(data.backendNiceness ? { backendNiceness: data.backendNiceness } : {}),
  });
  if (data.redisUrl && !views) {
    views = new LiveViews(data.redisUrl, data.redisKeyPrefix, { connectTimeoutMs: 5000 });
    firstConnect = firstConnection(views);
  }
  return { pool, views };
}

// Connect while the thread waits for its first task.
connections();

/** Applies one partition task; never throws, classifies failures for the runner. */
export async function applyTask(task: PartitionTask): Promise<TaskResult> {
  let definition;
  try {
    definition = await loadDefinition(task.module);
  } catch (error) {
    return { ok: false, kind: "load", message: error instanceof Error ? error.message : String(error) };
  }
  try {
    const deps = connections();
    if (firstConnect) await firstConnect;
    const outcome = await applyPartition(deps, definition, {
      version: task.version,
      owned: task.owned,
      partitions: task.partitions,
      through: parsePosition(task.through)!,
      events: decodeEvents(task.events),
      views: task.views,
    });
    return { ok: true, ...outcome };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, kind: isConnectionError(error) ? "connection" : "apply", message, viewsAhead: error instanceof ViewsAheadError };
  }
}
