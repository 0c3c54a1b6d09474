/**
 * Runs a task (one or more partitions' share of a batch) on the worker pool: retries with
 * backoff, retries store outages until they end. A task over several partitions that fails
 * is split into one task per partition; a single partition's task that keeps failing applies
 * its events one at a time, parking (or, by policy, stopping at) the event that still fails.
 */
import type { Piscina } from "piscina";
import type { Logger } from "pino";
import type { Pool } from "../../db/pool.ts";
import type { RecordedEvent } from "../../event_store/types.ts";
import { encodePosition, type Position } from "../../shared/position.ts";
import type { ProjectionDefinition, ProjectionModuleRef } from "../define.ts";
import { backoffMs, sleep } from "./backoff.ts";
import { parkEvent } from "./park.ts";
import { partitionBatch, partitionCount } from "./partition.ts";
import { encodeEvents, type PartitionTask, type TaskResult } from "./task.ts";

export interface PartitionRunnerDeps {
  piscina: Piscina;
  pool: Pool;
  logger: Logger;
  signal: AbortSignal;
  /** Called when a task's Redis writes failed (views must be restored). */
  onViewsFailed(): void;
}

/** Raised when a projection's policy is to stop on an event that keeps failing. */
export class ProjectionStoppedError extends Error {}

const APPLY_ATTEMPTS = 3;

async function submit(deps: PartitionRunnerDeps, task: PartitionTask): Promise<TaskResult> {
  const transfer = task.events.buffer as ArrayBuffer;
  try {
    return (await deps.piscina.run(task, { transferList: [transfer] })) as TaskResult;
  } catch (error) {
    // The worker thread died under the task (out of memory, an exit): piscina starts another.
    // Nothing of the task committed (its transaction dies with the thread's connections), so
    // it is tried again; a task that kills its thread every time ends like one that keeps
    // failing: its events are applied one by one and the one that still does is parked.
    if (deps.signal.aborted) throw error;
    return { ok: false, kind: "apply", message: `worker thread failed: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** True when PostgreSQL answers a trivial query within a couple of seconds. */
async function databaseAnswers(pool: Pool): Promise<boolean> {
  try {
    await Promise.race([pool.query("SELECT 1"), sleep(2000).then(() => Promise.reject(new Error("timeout")))]);
    return true;
  } catch {
    return false;
  }
}

/** Runs a task until it succeeds or fails for a reason other than an outage `attempts` times; returns the last failure. */
async function attempt(deps: PartitionRunnerDeps, make: () => PartitionTask, attempts: number): Promise<string | null> {
  let failures = 0;
  let outages = 0;
  for (;;) {
    const result = await submit(deps, make());
    if (result.ok) {
      if (result.viewsFailed) deps.onViewsFailed();
      return null;
    }
    // Views written for rows that rolled back: restore them from the rows (a retry that succeeds rewrites them too).
    if (result.viewsAhead) deps.onViewsFailed();
    // A failure while PostgreSQL does not answer is an outage, whatever its message says:
    // never count it towards parking an event.
    if (result.kind !== "apply" || !(await databaseAnswers(deps.pool))) {
      deps.logger.warn({ kind: result.kind, error: result.message }, "projection worker cannot run tasks (store down or module not loadable); retrying");
      await sleep(backoffMs(outages++), deps.signal);
      continue;
    }
    failures++;
    if (failures >= attempts) return result.message;
    await sleep(backoffMs(failures), deps.signal);
  }
}

/** Applies the owned partitions' events exactly once, isolating and parking events that keep failing. */
export async function runPartitions(
  deps: PartitionRunnerDeps,
  definition: ProjectionDefinition,
  module: ProjectionModuleRef,
  work: { version: number; owned: readonly number[]; events: readonly RecordedEvent[]; through: Position; views: boolean },
): Promise<void> {
  const base = { module, version: work.version, owned: [...work.owned], partitions: partitionCount(definition), views: work.views };
  const task = () => ({ ...base, through: encodePosition(work.through), events: encodeEvents(work.events) });
  if (work.owned.length > 1) {
    // One try together; on failure each partition runs (and retries, isolates, parks) alone.
    const error = await attempt(deps, task, 1);
    if (error === null) return;
    deps.logger.warn({ projection: definition.name, partitions: work.owned, error }, "task over several partitions failed; applying them one by one");
    const split = partitionBatch(definition, work.events);
    for (const partition of work.owned) {
      await runPartitions(deps, definition, module, { ...work, owned: [partition], events: split.get(partition) ?? [] });
    }
    return;
  }
  const partition = work.owned[0]!;
  const whole = await attempt(deps, task, APPLY_ATTEMPTS);
  if (whole === null) return;
  deps.logger.warn({ projection: definition.name, partition, error: whole }, "partition task keeps failing; isolating events");
  for (const event of work.events) {
    const error = await attempt(deps, () => ({ ...base, through: encodePosition(event.position), events: encodeEvents([event]) }), 2);
    if (error === null) continue;
    if ((definition.onError ?? "park") === "stop") {
      throw new ProjectionStoppedError(`Projection ${definition.name} stopped at event ${event.eventId}: ${error}`);
    }
    deps.logger.error({ projection: definition.name, eventId: event.eventId, type: event.type, error }, "parking event");
    await parkEvent(deps.pool, { projection: definition.name, version: work.version, partition }, event, error);
  }
}
