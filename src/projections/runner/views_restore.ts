/**
 * Rebuilds a projection version's Redis views from its PostgreSQL rows: streams each
 * table in key order (keyset pages) and writes views(table, key, row, undefined, version)
 * in pipelines, then sets the version's sentinel key. A missing sentinel means Redis lost
 * its data (restart, FLUSHALL), so the views are rebuilt without a restart.
 */
import type { Redis } from "ioredis";
import type { Pool } from "../../db/pool.ts";
import { sentinelKey } from "../../shared/read_models.ts";
import type { ProjectionDefinition, TableModel, ViewOp } from "../define.ts";
import { readKeysetPage } from "./row_io.ts";
import { queueViewOps, unlinkMatching } from "./views.ts";

/**
 * Rows per page. A page's Redis commands and their arguments wait in memory until Redis has
 * answered them all: restoring 384,000 orders' views took a heap peak of 188 MiB at 1,000
 * rows a page and 97 MiB at 250, in the same time (28–32 s, bound by Redis).
 */
export const RESTORE_PAGE_ROWS = 250;

/** True when the version's views are known to be in Redis. */
export async function viewsPresent(redis: Redis, definition: ProjectionDefinition, version: number): Promise<boolean> {
  // "1" only: a restore that never finished (the process died midway) leaves its token.
  return (await redis.get(sentinelKey(definition.name, version))) === "1";
}

/** Sets the sentinel to "1" only if it still holds this restore's token (Redis kept everything written since). */
const COMPLETE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('SET', KEYS[1], '1') else return false end`;

/** Raised when Redis lost data while views were being restored (flushed or restarted): restore again. */
export class RestoreInterruptedError extends Error {}

/**
 * Holds the projection's writers for one page (returns the release function): a restore
 * alongside a running loop holds it per page rather than for the whole restore, so live
 * events keep flowing between pages (a restore of 400,000 rows takes tens of seconds).
 * Within a held page no task is in flight: the rows read are the latest committed, and no
 * task writes a view of them until the page's views are written, so a restored view is
 * never older than its row.
 */
export type HoldWriters = () => Promise<() => void>;

/** Writes the views of one table's rows (keyset pages, one pipeline per page); returns the rows read. */
async function restoreTable(pool: Pool, redis: Redis, definition: ProjectionDefinition, version: number, model: TableModel, hold: HoldWriters | undefined): Promise<number> {
  const views = definition.views;
  if (!views) return 0;
  let after: string | null = null;
  let rows = 0;
  for (;;) {
    const release = hold ? await hold() : null;
    try {
      const page = await restorePage(pool, redis, views, version, model, after);
      rows += page.rows;
      after = page.after;
      if (page.rows < RESTORE_PAGE_ROWS) break;
    } finally {
      release?.();
    }
  }
  return rows;
}

/** Reads one keyset page of rows after `after` and writes their views; returns the rows read and the last key. */
async function restorePage(
  pool: Pool,
  redis: Redis,
  views: NonNullable<ProjectionDefinition["views"]>,
  version: number,
  model: TableModel,
  after: string | null,
): Promise<{ rows: number; after: string | null }> {
  const rows = await readKeysetPage(pool, model, version, after, RESTORE_PAGE_ROWS);
  if (rows.length === 0) return { rows: 0, after };
  const ops: ViewOp[] = [];
  for (const row of rows) {
    const rowKey = String(row[model.key]);
    ops.push(...views(model.table, rowKey, row, undefined, version));
    after = rowKey;
  }
  const pipeline = redis.pipeline();
  queueViewOps(pipeline, ops);
  const results = (await pipeline.exec()) ?? [];
  const failed = results.find(([error]) => error !== null);
  if (failed) throw failed[0]!;
  return { rows: rows.length, after };
}

/** Settles when the restore that asked last has finished (the turn of the next one). */
let restoreTurn: Promise<void> = Promise.resolve();

/**
 * Rewrites every view of a projection version from its rows; returns the number of rows read.
 * The sentinel holds a token while the restore runs and becomes "1" only if that token is
 * still there at the end: Redis losing its data midway (a flush, a restart) leaves no
 * sentinel, so the views are restored again rather than left half-written.
 */
export async function restoreViews(pool: Pool, redis: Redis, definition: ProjectionDefinition, version: number, hold?: HoldWriters): Promise<number> {
  // One restore at a time in a process: restores start together (every projection of a fresh
  // database reaches the head of its backlog within a second), and three at once kept some
  // 14,000 Redis commands and their arguments waiting (a 150 MiB jump of the heap at the end
  // of a catch-up); Redis runs one command at a time anyway.
  const turn = restoreTurn;
  let done!: () => void;
  restoreTurn = new Promise((resolve) => (done = resolve));
  await turn;
  try {
    return await restoreViewsNow(pool, redis, definition, version, hold);
  } finally {
    done();
  }
}

/**
 * Starts writing a version's views as a whole (a restore, or a replay's bulk build into a key
 * space it cleared): the sentinel holds a fresh token, and readers of collections ask
 * PostgreSQL until closeViewsSession turns it into "1". Returns the token.
 */
export async function openViewsSession(redis: Redis, definition: ProjectionDefinition, version: number): Promise<string> {
  const token = `restoring:${crypto.randomUUID()}`;
  await redis.set(sentinelKey(definition.name, version), token);
  return token;
}

/** Marks the version's views complete if the session's token survived (Redis kept everything written since); false when it did not. */
export async function closeViewsSession(redis: Redis, definition: ProjectionDefinition, version: number, token: string): Promise<boolean> {
  return (await redis.eval(COMPLETE, 1, sentinelKey(definition.name, version), token)) !== null;
}

async function restoreViewsNow(pool: Pool, redis: Redis, definition: ProjectionDefinition, version: number, hold?: HoldWriters): Promise<number> {
  const token = await openViewsSession(redis, definition, version);
  // Collections cleared after the sentinel stopped saying "complete": their readers ask PostgreSQL until the end.
  await unlinkMatching(redis, definition.viewCollections?.(version) ?? []);
  let rows = 0;
  for (const model of definition.tables) rows += await restoreTable(pool, redis, definition, version, model, hold);
  if (!(await closeViewsSession(redis, definition, version, token))) throw new RestoreInterruptedError(`Redis lost data while the views of ${definition.name} v${version} were restored`);
  return rows;
}
