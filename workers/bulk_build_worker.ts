/**
 * Piscina entry: runs one bulk build task (src/projections/bulk/build.ts: one or more
 * projection versions, one read of the log) in this thread, reporting each member's flushes
 * on its MessagePort and stopping a member when its port says "stop". The thread keeps a
 * small pg pool for its builds, made from workerData (the same settings as the projection
 * workers'); each build opens its log reader and Redis writer.
 */
import type { MessagePort } from "node:worker_threads";
import { workerData } from "node:worker_threads";
import pg from "pg";
import { lowerBackendPriority } from "../src/db/backend_priority.ts";
import { createPool, isConnectionError, SESSION_DEFAULTS, type Pool } from "../src/db/pool.ts";
import { LOG_READ_SETTINGS } from "../src/event_store/postgres.ts";
import type { ProjectionModuleRef } from "../src/projections/define.ts";
import { MAX_GROUP, runGroupBuild, type BuildMember, type BuildRequest, type BuildResult, type MemberOutcome } from "../src/projections/bulk/build.ts";
import { CheckpointMovedError, FlushViewsAheadError } from "../src/projections/bulk/flush.ts";
import { RespWriter } from "../src/projections/bulk/resp_writer.ts";
import { sentinelKey } from "../src/shared/read_models.ts";
import { loadDefinition } from "../src/projections/runner/load_definition.ts";
import { lowerThreadPriority } from "../src/runtime/priority.ts";
import type { ProjectionWorkerData } from "./projection_worker.ts";

/** One projection of a build task: what to build, and its port (receives "stop"; gets progress after every flush). */
export interface BuildTaskMember extends BuildRequest {
  module: ProjectionModuleRef;
  port: MessagePort;
}

/** A build task: projections that start from the same position, built together up to `through` (wire form). */
export interface BuildTask {
  through: string;
  members: BuildTaskMember[];
}

export type BuildProgressMessage = { position: string; consumed: number } | { viewsFailed: true } | { reading: number };

/**
 * What a build task answers. Errors are classified here: their class and code do not survive
 * the trip to the main thread. "moved": another process writes the version (leadership was
 * lost); "connection": the store could not be reached; "failed": anything else (the build
 * leaves the rest to batches). `viewsAhead`: views went out for rows that did not commit.
 */
export type BuildTaskResult = { ok: true; result: BuildResult } | { ok: false; kind: "moved" | "connection" | "failed"; message: string; viewsAhead: boolean };

/** A failure as the main thread gets it. */
function classify(error: unknown): BuildTaskResult {
  const cause = error instanceof FlushViewsAheadError ? error.cause : error;
  const kind = cause instanceof CheckpointMovedError ? "moved" : isConnectionError(cause) ? "connection" : "failed";
  return { ok: false, kind, message: error instanceof Error ? error.message : String(error), viewsAhead: error instanceof FlushViewsAheadError };
}

const data = workerData as ProjectionWorkerData;
if (data.niceness) lowerThreadPriority(data.niceness);
let pool: Promise<Pool> | null = null;
/** Connections of the thread: one per projection of a build (its flushes) and one for row lookups. */
const POOL_SIZE = MAX_GROUP + 1;

/**
 * The thread's pool (POOL_SIZE connections: each projection's flushes, and lookups while they run), opened and, for a
 * replay, reniced before first use (pg deprecates queueing the renice on a client the pool is
 * handing out).
 */
function connections(): Promise<Pool> {
  pool ??= (async () => {
    const created = createPool({ connectionString: data.databaseUrl, max: POOL_SIZE, applicationName: "projection-bulk-build" });
    const clients = await Promise.all(Array.from({ length: POOL_SIZE }, () => created.connect()));
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

/** Runs one build task; answers, per member, where the build left its version or why it failed. */
export async function buildTask(task: BuildTask): Promise<BuildTaskResult[]> {
  const stops = task.members.map((member) => {
    const flag = { stopped: false };
    member.port.on("message", (message) => {
      if (message === "stop") flag.stopped = true;
    });
    return flag;
  });
  try {
    const members: BuildMember[] = [];
    const early: (BuildTaskResult | null)[] = [];
    for (const [i, { module, port, ...request }] of task.members.entries()) {
      try {
        const definition = await loadDefinition(module);
        members.push({
          definition,
          request,
          hooks: {
            progress: (position, consumed) => port.postMessage({ position, consumed } satisfies BuildProgressMessage),
            reading: (consumed) => port.postMessage({ reading: consumed } satisfies BuildProgressMessage),
            stopped: () => stops[i]!.stopped,
            viewsFailed: () => {
              port.postMessage({ viewsFailed: true } satisfies BuildProgressMessage);
              void withdrawSentinel(definition.name, request.version);
            },
          },
        });
        early.push(null);
      } catch (error) {
        early.push(classify(error));
      }
    }
    const redisUrl = data.redisUrl;
    const deps = { pool: await connections(), connectReader, connectViews: redisUrl ? () => RespWriter.connect(redisUrl, data.redisKeyPrefix, undefined, undefined, "projection-bulk") : null };
    let outcomes: MemberOutcome[];
    try {
      outcomes = await runGroupBuild(deps, task.through, members);
    } catch (error) {
      // The log could not be read: every member failed with it.
      const failed = classify(error);
      return early.map((result) => result ?? failed);
    }
    let next = 0;
    return early.map((result) => {
      if (result) return result;
      const outcome = outcomes[next++]!;
      return outcome.ok ? outcome : classify(outcome.error);
    });
  } finally {
    for (const member of task.members) member.port.close();
  }
}
