/**
 * The piscina pool that runs workers/projection_worker.ts. Worker threads load the
 * TypeScript entry through tsx's loader when the parent did not already start with it.
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Piscina } from "piscina";
import type { ProjectionWorkerData } from "../../../workers/projection_worker.ts";

/** Old-generation heap limit of a worker thread, in MiB. */
const WORKER_HEAP_MB = 256;

/**
 * Young-generation size of a worker thread, in MiB. Tasks allocate fast (decoded events,
 * rows, JSON); a larger nursery means fewer scavenges that copy what is still live.
 */
const WORKER_YOUNG_MB = 48;

/** Tasks a worker thread runs at once (each on its own PostgreSQL connection). */
export const TASKS_PER_WORKER = 4;

const WORKER_URL = new URL("../../../workers/projection_worker.ts", import.meta.url);
const BULK_WORKER_URL = new URL("../../../workers/bulk_build_worker.ts", import.meta.url);

/**
 * Old- and young-generation limits of a bulk build's thread, in MiB: it holds the rows of
 * about two flush periods and allocates fast (decoded events, folded rows, prepared views).
 */
const BULK_HEAP_MB = 384;
const BULK_YOUNG_MB = 64;

/**
 * The parent's module-loading flags (`--import tsx` and the like). V8 and per-process flags
 * (`--max-semi-space-size`, `--cpu-prof`, …) are left out: a Worker refuses to start with them.
 */
function loaderArgs(argv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (/^(--(import|require|loader|experimental-loader|conditions)|-r)$/.test(arg) && i + 1 < argv.length) kept.push(arg, argv[++i]!);
    else if (/^--(import|require|loader|experimental-loader|conditions)=/.test(arg)) kept.push(arg);
    else if (/^--(experimental|no-warnings|enable-source-maps|cpu-prof|heap-prof)/.test(arg)) kept.push(arg);
  }
  return kept;
}

function workerExecArgv(): string[] {
  const inherited = loaderArgs(process.execArgv);
  if (inherited.some((arg) => arg.includes("tsx"))) return inherited;
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return [...inherited, "--import", tsx];
}

/** Starts a fixed-size pool of projection workers sharing the given connection settings. */
export function createWorkerPool(options: { threads: number; data: ProjectionWorkerData }): Piscina {
  return new Piscina({
    filename: WORKER_URL.href,
    name: "applyTask",
    minThreads: options.threads,
    maxThreads: options.threads,
    idleTimeout: 60_000,
    // Tasks mostly wait on PostgreSQL and Redis: several in flight per thread keep both busy.
    concurrentTasksPerWorker: TASKS_PER_WORKER,
    // The threads' event loops keep running between tasks (piscina's default, "sync", parks an
    // idle thread in Atomics.wait): a thread owns PostgreSQL and Redis connections, and a parked
    // one noticed a Redis restart only at its next task, whose views then failed (left stale
    // until a restore, while the task's position released reads with X-Consistent-With).
    atomics: "disabled",
    // A bounded heap per worker thread: V8 collects before it grows past this (peak RSS).
    resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB, maxYoungGenerationSizeMb: WORKER_YOUNG_MB },
    workerData: options.data,
    execArgv: workerExecArgv(),
  });
}

/**
 * A pool for bulk builds (workers/bulk_build_worker.ts): one long task per thread, threads
 * started on demand and gone soon after the last build, so an idle service holds none.
 */
export function createBulkBuildPool(options: { threads: number; data: ProjectionWorkerData }): Piscina {
  return new Piscina({
    filename: BULK_WORKER_URL.href,
    name: "buildTask",
    minThreads: 0,
    maxThreads: Math.max(1, options.threads),
    idleTimeout: 1000,
    concurrentTasksPerWorker: 1,
    atomics: "disabled",
    resourceLimits: { maxOldGenerationSizeMb: BULK_HEAP_MB, maxYoungGenerationSizeMb: BULK_YOUNG_MB },
    workerData: options.data,
    execArgv: workerExecArgv(),
  });
}
