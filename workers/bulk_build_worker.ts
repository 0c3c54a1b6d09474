/**
 * Piscina entry: runs one bulk build (src/projections/bulk/build.ts) of one projection
 * version in this thread, reporting each flush on the task's MessagePort and stopping when
 * the port says "stop". The thread keeps a small pg pool and one ioredis connection for its
 * builds, made from workerData (the same settings as the projection workers').
 */
import type { MessagePort } from "node:worker_threads";
import { workerData } from "node:worker_threads";
import pg from "pg";
import { lowerBackendPriority } from "../src/db/backend_priority.ts";
import { createPool, isConnectionError, SESSION_DEFAULTS, type Pool } from "../src/db/pool.ts";
import { LOG_READ_SETTINGS } from "../src/event_store/postgres.ts";
import type { ProjectionModuleRef } from "../src/projections/define.ts";
import { runBuild, type BuildRequest, type BuildResult } from "../src/projections/bulk/build.ts";
import { CheckpointMovedError, FlushViewsAheadError } from "../src/projections/bulk/flush.ts";
import { RespWriter } from "../src/projections/bulk/resp_writer.ts";
import { sentinelKey } from "../src/shared/read_models.ts";
import { loadDefinition } from "../src/projections/runner/load_definition.ts";
import { lowerThreadPriority } from "../src/runtime/priority.ts";
import type { ProjectionWorkerData } from "./projection_worker.ts";

export interface BuildTask extends BuildRequest {
  module: ProjectionModuleRef;
  /** Receives "stop"; gets `{ position, consumed }` after every flush. */
  port: MessagePort;
}

export type BuildProgressMessage = { position: string; consumed: number } | { viewsFailed: true };

/**
 * What a build task answers. Errors are classified here: their class and code do not survive
 * the trip to the main thread. "moved": another process writes the version (leadership was
 * lost); "connection": the store could not be reached; "failed": anything else (the build
 * leaves the rest to batches). `viewsAhead`: views went out for rows that did not commit.
 */
export type BuildTaskResult = { ok: true; result: BuildResult } | { ok: false; kind: "moved" | "connection" | "failed"; message: string; viewsAhead: boolean };

const data = workerData as ProjectionWorkerData;
if (data.niceness) lowerThreadPriority(data.niceness);
let pool: Promise<Pool> | null = null;

/**
 * The thread's pool: two connections (a flush, and lookups while one runs), opened and, for a
 * replay, reniced before first use (pg deprecates queueing the renice on a client the pool is
 * handing out).
 */
function connections(): Promise<Pool> {
  pool ??= (async () => {
    const created = createPool({ connectionString: data.databaseUrl, max: 2, applicationName: "projection-bulk-build", asyncCommit: true });
    const clients = await Promise.all([created.connect(), created.connect()]);
    for (const client of clients) {
      if (data.backendNiceness) await lowerBackendPriority(client, data.backendNiceness).catch(() => undefined);
      client.release();
    }
    return created;
  })();
  pool.catch(() => (pool = null));
  return pool;
}

async function connectReader(): Promise<pg.Client> {
  const settings = { ...SESSION_DEFAULTS, ...LOG_READ_SETTINGS };
  const client = new pg.Client({
    connectionString: data.databaseUrl,
    application_name: "projection-bulk-read",
    options: Object.entries(settings).map(([name, value]) => `-c ${name}=${value}`).join(" "),
  });
  client.on("error", () => undefined);
  await client.connect();
  if (data.backendNiceness) await lowerBackendPriority(client, data.backendNiceness).catch(() => undefined);
  return client;
}

/** Removes the version's sentinel (best effort): its views stopped being written, readers of collections must ask PostgreSQL. */
async function withdrawSentinel(projection: string, version: number): Promise<void> {
  if (!data.redisUrl) return;
  try {
    const writer = await RespWriter.connect(data.redisUrl, data.redisKeyPrefix, 2000);
    try {
      await writer.write([{ op: "del", key: sentinelKey(projection, version) }]);
      await writer.flush();
    } finally {
      writer.close();
    }
  } catch {
    // Redis down: the sentinel goes with the restore that follows.
  }
}

/** Runs one build task; answers where the build left the version, or why it failed. */
export async function buildTask(task: BuildTask): Promise<BuildTaskResult> {
  const { port, module, ...request } = task;
  let stopped = false;
  port.on("message", (message) => {
    if (message === "stop") stopped = true;
  });
  try {
    const definition = await loadDefinition(module);
    const redisUrl = data.redisUrl;
    const result = await runBuild(
      { pool: await connections(), connectReader, connectViews: redisUrl ? () => RespWriter.connect(redisUrl, data.redisKeyPrefix) : null },
      definition,
      request,
      {
        progress: (position, consumed) => port.postMessage({ position, consumed } satisfies BuildProgressMessage),
        stopped: () => stopped,
        viewsFailed: () => {
          port.postMessage({ viewsFailed: true } satisfies BuildProgressMessage);
          void withdrawSentinel(definition.name, request.version);
        },
      },
    );
    return { ok: true, result };
  } catch (error) {
    const cause = error instanceof FlushViewsAheadError ? error.cause : error;
    const kind = cause instanceof CheckpointMovedError ? "moved" : isConnectionError(cause) ? "connection" : "failed";
    return { ok: false, kind, message: error instanceof Error ? error.message : String(error), viewsAhead: error instanceof FlushViewsAheadError };
  } finally {
    port.close();
  }
}
