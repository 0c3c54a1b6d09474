/**
 * What a process does while it leads a projection: run its loop and keep its Redis views
 * whole. Every second (and whenever Redis becomes ready) the watchdog checks the version's
 * sentinel key, the dirty flag and the Redis server's run_id against the one stored with the
 * version (a restart from an older snapshot, even while no process ran, brings back views that
 * look complete), and, while the sentinel says complete, the views of the next
 * few rows of each table (views_audit.ts: keys lost one by one leave the sentinel in place);
 * when views were lost or missed writes, it rebuilds the
 * views from the rows, holding the loop one page at a time (live events go on between pages). While the loop defers views (the
 * bulk build of a fresh version) it does nothing; the loop marks them dirty when it stops
 * deferring, so they are rebuilt once, from the finished rows.
 */
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Pool } from "../../db/pool.ts";
import type { ProjectionLoop } from "./projection_loop.ts";
import { redisRunId } from "../../shared/redis_server.ts";
import { dropVersionKeys } from "./retire.ts";
import { ViewsAudit, type MissingViews } from "./views_audit.ts";
import { restoreViews, viewsPresent } from "./views_restore.ts";

export interface ViewsState {
  dirty: boolean;
  /** True while a restore runs. */
  restoring?: boolean;
  /** Set by leadProjection: runs the check now rather than on the next tick. */
  kick?: () => void;
}

/** Runs the loop until the signal aborts, restoring views when needed; rejects when the loop fails. */
export async function leadProjection(options: {
  loop: ProjectionLoop;
  pool: Pool;
  redis: Redis | null;
  logger: Logger;
  views: ViewsState;
  signal: AbortSignal;
  checkEveryMs?: number;
}): Promise<void> {
  const { loop, pool, redis, logger, views, signal } = options;
  const { definition } = loop;
  const version = loop.version;
  // views_writing still set: the last leader died while writing views, which may be ahead
  // of rows that never committed; restore them. Then mark this leader as writing.
  const dirty = await pool.query<{ views_dirty: boolean; views_writing: boolean; redis_run_id: string | null }>(
    "UPDATE projections AS p SET views_writing = $3 FROM (SELECT views_dirty, views_writing, redis_run_id FROM projections WHERE name = $1 AND version = $2 FOR UPDATE) AS old WHERE p.name = $1 AND p.version = $2 RETURNING old.views_dirty, old.views_writing, old.redis_run_id",
    [definition.name, version, Boolean(redis && definition.views)],
  );
  if (dirty.rows[0]?.views_dirty || dirty.rows[0]?.views_writing) views.dirty = true;
  let checking = false;
  const audit = new ViewsAudit();
  /**
   * The run_id of the Redis server the views were last seen on (stored with the version, so
   * a restart while no leader ran is told too); a new one means it restarted.
   */
  let runId: string | null = dirty.rows[0]?.redis_run_id ?? null;
  /**
   * A restarted server's run_id, set when the check tells it and recorded once the keys it came
   * back with (maybe an older snapshot's) are dropped, before the restore.
   */
  let restartedAs: string | null = null;

  /** Stores the server's run_id with the version (after a restart, once its keys are dropped). */
  const recordServer = async (id: string): Promise<void> => {
    await pool.query("UPDATE projections SET redis_run_id = $3 WHERE name = $1 AND version = $2", [definition.name, version, id]);
    runId = id;
  };

  /** Sets restartedAs when the Redis server is not the one the views were last seen on (it restarted, empty or from a snapshot). */
  const checkServer = async (client: NonNullable<typeof redis>): Promise<void> => {
    // Unanswered: nothing learned (the next check asks again), and no restore for it.
    const id = await redisRunId(client);
    if (id === null || id === runId) return;
    if (runId === null) {
      // First seen (a new version, or one from before run_ids were stored): nothing to compare.
      // Not stored (PostgreSQL did not answer): the next check tries again; no restore for it.
      await recordServer(id).catch(() => undefined);
      return;
    }
    restartedAs = id;
  };

  /** Checks the next few rows' views (the sentinel says they are complete); a reason to restore them, or null. */
  const audited = async (client: NonNullable<typeof redis>): Promise<string | null> => {
    let still: MissingViews;
    try {
      const missing = await audit.next(pool, client, definition, version);
      if (missing.size === 0) return null;
      // Checked again with no task in flight: one may have moved a row's members before its commit.
      const release = await loop.hold();
      try {
        still = await audit.recheck(pool, client, definition, version, missing);
      } finally {
        release();
      }
    } catch (error) {
      // A store that did not answer says nothing about the views: the next check audits again.
      logger.debug({ projection: definition.name, version, error: (error as Error).message }, "views audit skipped");
      return null;
    }
    if (still.size === 0) return null;
    const rows = [...still].flatMap(([table, keys]) => keys.map((key) => `${table}/${key}`));
    logger.warn({ projection: definition.name, version, rows: rows.slice(0, 5), missing: rows.length }, "Redis lost views of rows while its sentinel says complete");
    return "views missing in Redis";
  };

  const check = async (): Promise<void> => {
    if (!redis || !definition.views || checking || signal.aborted || redis.status !== "ready" || loop.deferringViews) return;
    checking = true;
    try {
      // A Redis restarted from an older snapshot holds a sentinel and views that look complete
      // and are not current: nothing else would tell.
      await checkServer(redis);
      const reason = restartedAs !== null
        ? "Redis restarted"
        : views.dirty
          ? "views marked dirty"
          : (await viewsPresent(redis, definition, version))
            ? await audited(redis)
            : "sentinel missing";
      if (reason === null) return;
      logger.info({ projection: definition.name, version, reason }, "restoring Redis views from rows");
      // Its keys go first: readers find no view (and read the rows) rather than a stale one meanwhile.
      if (restartedAs !== null) {
        await dropVersionKeys(redis, definition.name, version);
        await recordServer(restartedAs);
        restartedAs = null;
      }
      // Cleared first: a task whose views fail while the restore runs sets it again, and the
      // views are restored once more.
      views.dirty = false;
      views.restoring = true;
      await pool.query("UPDATE projections SET views_dirty = false WHERE name = $1 AND version = $2", [definition.name, version]);
      const started = performance.now();
      // The loop is held one page at a time, so live events keep flowing during a long restore.
      const rows = await restoreViews(pool, redis, definition, version, () => loop.hold());
      logger.info({ projection: definition.name, version, rows, ms: Math.round(performance.now() - started) }, "restored Redis views from rows");
    } catch (error) {
      views.dirty = true;
      logger.warn({ projection: definition.name, error: (error as Error).message }, "restoring Redis views failed; will retry");
    } finally {
      views.restoring = false;
      checking = false;
    }
  };

  await loop.clearStaleViews(redis);
  const tick = (): void => void check();
  views.kick = tick;
  const timer = setInterval(tick, options.checkEveryMs ?? 1000);
  redis?.on("ready", tick);
  try {
    // The first check runs beside the loop, not before it: a restore (views dirty after a
    // SIGKILL, say) holds the loop one page at a time, as it does later, so live events are
    // applied during it. Awaited first, it kept new commands out of the read models for the
    // whole restore (4-5 s for 65,000 orders in a fault audit, growing with the rows).
    tick();
    await loop.run(signal);
  } finally {
    clearInterval(timer);
    redis?.off("ready", tick);
  }
  // A clean stop (run() returned: every task finished): the views are not ahead of the rows.
  await pool.query("UPDATE projections SET views_writing = false WHERE name = $1 AND version = $2", [definition.name, version]).catch(() => undefined);
}
