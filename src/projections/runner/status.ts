/**
 * Projection status as `GET /v1/projections` and `npm run cli -- status` show it:
 * serving version, low watermark, head, lag, parked events and what the runner is doing.
 */
import type { Pool } from "../../db/pool.ts";
import type { EventStore } from "../../event_store/types.ts";
import { comparePositions, encodePosition, parsePosition, START, type Position } from "../../shared/position.ts";
import type { ProjectionDefinition, ProjectionModuleRef } from "../define.ts";
import { loadDefinitions } from "./load_definition.ts";
import { leaderExists } from "./leadership.ts";
import { parkedCount } from "./park.ts";
import { replayRunning } from "./replay_lock.ts";
import { replayProgress } from "./replay_progress.ts";
import { groupDefinitions, type ProjectionFamily } from "./versions.ts";
import { readWatermark } from "./watermark.ts";

export type ProjectionStatusValue = "running" | "catching_up" | "rebuilding" | "stopped" | "failed";

export interface ProjectionStatusItem {
  name: string;
  version: number;
  status: ProjectionStatusValue;
  position: string;
  headPosition: string;
  lagEvents: number;
  parkedEvents: number;
  rebuild: { version: number; position: string; progress: number } | null;
}

/** What this process knows locally about a projection it leads ("failed" wins; "stopped": its serving version was built by a definition not in code). */
export type LocalState = "leading" | "failed" | "standby" | "stopped";

/** Events behind the head beyond which a following projection is catching up. */
export const CAUGHT_UP_LAG = 1000;
/**
 * A projection whose lag is events it cannot read yet (committed after a transaction that is
 * still open) is catching up only once that transaction has been open this long: appends in
 * flight hide the newest events for milliseconds all the time under load, and counting those
 * made the status flicker between `running` and `catching_up` at 20 orders/s.
 */
export const HELD_BACK_MS = 1000;
/**
 * Lags are counted exactly up to this many events; a longer one is estimated from the log's
 * sequence numbers (events are numbered as they are inserted: the difference over-counts only
 * appends that were rolled back), so a status polled during a long catch-up stays cheap.
 */
const EXACT_LAG = 10_000;

/**
 * How long (ms) the oldest transaction holding a transaction id anywhere on the server has
 * been open: the one that keeps readers of the log below its position. 0 when none is open
 * or none is visible to this role (pg_stat_activity shows other roles' ids only to
 * pg_read_all_stats).
 */
async function oldestWriterAgeMs(pool: Pool): Promise<number> {
  const result = await pool.query<{ ms: number | null }>(
    "SELECT (extract(epoch FROM clock_timestamp() - min(xact_start)) * 1000)::float8 AS ms FROM pg_stat_activity WHERE backend_xid IS NOT NULL",
  );
  return result.rows[0]?.ms ?? 0;
}

/** The newest committed event in the PostgreSQL store, visible to readers yet or not. */
async function committedHead(pool: Pool): Promise<Position | null> {
  const result = await pool.query<{ tx: string; global_position: string }>(
    "SELECT transaction_id::text AS tx, global_position FROM events ORDER BY transaction_id DESC, global_position DESC LIMIT 1",
  );
  const row = result.rows[0];
  return row ? { commit: BigInt(row.tx), prepare: BigInt(row.global_position) } : null;
}

async function lagBetween(pool: Pool, store: EventStore, position: Position, head: Position | null): Promise<number> {
  if (!head || comparePositions(position, head) >= 0) return 0;
  if (store.kind === "postgres") {
    const result = await pool.query<{ lag: string }>(
      // In log order: the planner has no estimate for an xid8 range and, without the order, took a
      // sequential scan that reads the whole log when the stretch is near its end (134 ms a call at 1M events; 5 ms by the index).
      `SELECT count(*) AS lag FROM (SELECT 1 FROM events WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
         AND (transaction_id, global_position) <= ($3::xid8, $4::bigint) ORDER BY transaction_id, global_position LIMIT ${EXACT_LAG}) AS pending`,
      [position.commit.toString(), position.prepare.toString(), head.commit.toString(), head.prepare.toString()],
    );
    const counted = Number(result.rows[0]?.lag ?? 0);
    if (counted < EXACT_LAG) return counted;
    return Math.max(counted, Number(head.prepare - position.prepare));
  }
  return (await store.readAll(comparePositions(position, START) === 0 ? null : position, 10_000)).length;
}

/**
 * The lag of each position behind the head, counting each stretch of the log once: the
 * positions are taken from the newest down and each is counted as the one above it plus the
 * events between them. Projections that move together (a catch-up reads the log once for all)
 * then cost about one count of the log behind them instead of one each.
 */
async function lagsBehind(pool: Pool, store: EventStore, positions: readonly Position[], head: Position | null): Promise<number[]> {
  // EventStoreDB's count reads forward from a position to the end (bounded), not to a second one.
  if (store.kind !== "postgres") return Promise.all(positions.map((position) => lagBetween(pool, store, position, head)));
  const order = positions.map((position, index) => ({ position, index })).sort((a, b) => comparePositions(b.position, a.position));
  const lags = new Array<number>(positions.length).fill(0);
  let above: Position | null = head;
  let aboveLag = 0;
  for (const { position, index } of order) {
    if (above !== null && comparePositions(position, above) < 0) {
      aboveLag += await lagBetween(pool, store, position, above);
      above = position;
    }
    lags[index] = aboveLag;
  }
  return lags;
}

async function rebuildOf(pool: Pool, name: string): Promise<ProjectionStatusItem["rebuild"]> {
  const building = await pool.query<{ version: number; position: string; events_done: string; events_total: string | null }>(
    "SELECT version, position, events_done, events_total FROM projections WHERE name = $1 AND state = 'building' ORDER BY version DESC LIMIT 1",
    [name],
  );
  const row = building.rows[0];
  if (!row) return null;
  const total = row.events_total === null ? null : Number(row.events_total);
  return { version: row.version, position: row.position, progress: replayProgress(Number(row.events_done), total) };
}

/** Status of every projection's serving version (and its replay, if any); `local` names the projections this process leads or saw fail. */
export async function projectionStatus(options: {
  pool: Pool;
  store: EventStore;
  definitions: readonly ProjectionDefinition[] | readonly ProjectionFamily[];
  local?: ReadonlyMap<string, LocalState>;
  /** The serving versions' positions this process announced (ahead of the stored watermark by at most one trailing write). */
  announced?: (projection: string) => Position | undefined;
  /** How long an open transaction must hold readers back before a lag behind it counts as catching up (default HELD_BACK_MS). */
  heldBackMs?: number;
}): Promise<{ items: ProjectionStatusItem[] }> {
  const { pool, store } = options;
  const families = options.definitions.map((entry) =>
    "current" in entry ? entry : { name: entry.name, current: entry, all: [{ definition: entry }] },
  );
  // The visible head stops at the oldest open transaction; lag counts every committed event,
  // so a long-open transaction that holds projections back shows as lag, not as "caught up".
  const visibleHead = await store.headPosition();
  const head = store.kind === "postgres" ? ((await committedHead(pool)) ?? visibleHead) : visibleHead;
  // Events committed behind a transaction open for a while (not just appends in flight).
  const heldBack = head !== null && (visibleHead === null || comparePositions(head, visibleHead) > 0) && (await oldestWriterAgeMs(pool)) >= (options.heldBackMs ?? HELD_BACK_MS);
  const serving: { family: (typeof families)[number]; version: number; followable: boolean; local: LocalState | undefined; indexing: boolean; position: Position }[] = [];
  for (const family of families) {
    const name = family.name;
    const active = await pool.query<{ version: number; definition_version: number | null; indexing: boolean | null }>(
      "SELECT a.version, p.definition_version, NOT p.indexes_built AS indexing FROM projection_active a LEFT JOIN projections p ON p.name = a.name AND p.version = a.version WHERE a.name = $1",
      [name],
    );
    const version = active.rows[0]?.version ?? family.current.version;
    const builtBy = active.rows[0]?.definition_version ?? version;
    const followable = family.all.some((entry) => entry.definition.version === builtBy);
    const local = options.local?.get(name);
    const stored = await readWatermark(pool, name, version);
    const announced = local === "leading" ? options.announced?.(name) : undefined;
    // Secondary indexes deferred for a bulk load and not built yet: not caught up.
    const indexing = active.rows[0]?.indexing === true;
    serving.push({ family, version, followable, local, indexing, position: announced && comparePositions(announced, stored) > 0 ? announced : stored });
  }
  const lags = await lagsBehind(pool, store, serving.map((entry) => entry.position), head);
  const items: ProjectionStatusItem[] = [];
  for (const [i, { family, version, followable, local, indexing, position }] of serving.entries()) {
    const name = family.name;
    const lagEvents = lags[i]!;
    const rebuild = await rebuildOf(pool, name);
    let status: ProjectionStatusValue;
    if (local === "failed") status = "failed";
    else if (rebuild && (await replayRunning(pool, name))) status = "rebuilding";
    else if (local === "stopped" || !followable) status = "stopped";
    else if (local !== "leading" && !(await leaderExists(pool, name))) status = "stopped";
    else status = lagEvents > CAUGHT_UP_LAG || (heldBack && lagEvents > 0) || indexing ? "catching_up" : "running";
    items.push({
      name,
      version,
      status,
      position: encodePosition(position),
      headPosition: encodePosition(head ?? START),
      lagEvents,
      parkedEvents: await parkedCount(pool, name, version),
      rebuild,
    });
  }
  return { items };
}

/** Status for the CLI (`npm run cli -- status`): loads the definitions by module reference, then reports. */
export async function projectionStatusForModules(options: { pool: Pool; store: EventStore; projections: readonly ProjectionModuleRef[] }): Promise<{ items: ProjectionStatusItem[] }> {
  const definitions = await loadDefinitions(options.projections);
  return projectionStatus({ pool: options.pool, store: options.store, definitions: groupDefinitions(definitions, options.projections) });
}

/**
 * Scrape-time figures for /metrics beyond the status: how old the oldest event the
 * projection has not applied yet is (seconds since its occurredAt; 0 when caught up, null
 * when the pending events are not readable yet, e.g. behind an open transaction), and the
 * log events its serving version has consumed (a counter across restarts: rate() is its
 * throughput).
 */
export async function projectionLagDetails(pool: Pool, store: EventStore, item: ProjectionStatusItem, now = Date.now()): Promise<{ lagSeconds: number | null; eventsDone: number }> {
  const done = await pool.query<{ events_done: string }>("SELECT events_done FROM projections WHERE name = $1 AND version = $2", [item.name, item.version]);
  const eventsDone = Number(done.rows[0]?.events_done ?? 0);
  if (item.lagEvents === 0) return { lagSeconds: 0, eventsDone };
  const position = parsePosition(item.position) ?? START;
  const [next] = await store.readAll(comparePositions(position, START) === 0 ? null : position, 1);
  const occurredAt = next ? Date.parse(next.metadata.occurredAt) : Number.NaN;
  return { lagSeconds: Number.isFinite(occurredAt) ? Math.max(0, (now - occurredAt) / 1000) : null, eventsDone };
}
