/**
 * A bulk build: brings one projection version from its checkpoint to a settled head of the
 * log in one pass, in a worker thread. The log streams in by binary COPY (only the
 * projection's event types decoded), rows are folded in memory across chunks (RowCache)
 * and written once per flush, with the checkpoints and the watermark in the same
 * transaction (flush.ts). Against a batch per 10,000 events, each loading, finalizing and
 * writing every row it touches, a row many events touch (a product's sales) is finalized
 * and written once per flush, and a new row is written once, by COPY.
 *
 * Memory is bounded by the flush period (events and rows between flushes) and by the rows
 * kept for the next period, not by the length of the log. Stopping abandons the period in
 * progress: the next run resumes from the last flush.
 */
import type pg from "pg";
import type { Pool, PoolClient } from "../../db/pool.ts";
import { comparePositions, encodePosition, parsePosition, START, type Position } from "../../shared/position.ts";
import type { ProjectionDefinition, Row } from "../define.ts";
import { tableName } from "../define.ts";
import { partitionCount } from "../runner/partition.ts";
import { ident, keyType, rowFromDatabase, selectList } from "../runner/row_io.ts";
import { flushRows, type FlushTarget } from "./flush.ts";
import { readLogRange } from "./log_copy.ts";
import type { RespWriter } from "./resp_writer.ts";
import { MAX_CACHED_ROWS, RowCache } from "./row_cache.ts";

export interface BuildRequest {
  /** Physical version written. */
  version: number;
  /** The head to build up to (wire form); the build reads the log from the version's watermark to it. */
  through: string;
  /** Write Redis views (false: none, e.g. no Redis). */
  views: boolean;
  /** The version's Redis key space was cleared when it started (nothing there for rows it never wrote). */
  viewsFresh: boolean;
  /** Log events between flushes (default FLUSH_EVENTS). */
  flushEvents?: number;
  /** Rows folded between flushes (default FLUSH_ROWS). */
  flushRows?: number;
  /** Rows kept from one flush to the next (default MAX_CACHED_ROWS). */
  cachedRows?: number;
}

export interface BuildResult {
  /** The watermark the build left (wire form), and the log events consumed up to it. */
  position: string;
  consumed: number;
  events: number;
  rowsWritten: number;
  flushes: number;
  viewsFailed: boolean;
}

export interface BuildHooks {
  /** After each flush committed: the new watermark and events consumed. */
  progress(position: string, consumed: number): void;
  /** True once the build should stop (checked between chunks). */
  stopped(): boolean;
  /** Views stopped being written (Redis failed or unreachable): readers must not trust them until they are restored. */
  viewsFailed(): void;
}

export interface BuildDeps {
  /** Writes (flushes) and lookups; async commit is fine (a lost suffix is redone from the log). */
  pool: Pool;
  /** Opens the connection the log is streamed over (ended afterwards). */
  connectReader(): Promise<pg.Client>;
  /** Opens the connection views are written over (closed afterwards); null: no Redis. Throws when Redis cannot be reached. */
  connectViews: (() => Promise<RespWriter>) | null;
}

/** Log events between flushes, and rows folded between flushes, whichever comes first. */
export const FLUSH_EVENTS = 100_000;
export const FLUSH_ROWS = 5000;
/** Log events read, looked up and folded at a time. */
const CHUNK_EVENTS = 5000;

/** Partition checkpoints of the version, creating the missing rows at `fallback`; index = partition. */
async function loadCheckpoints(client: PoolClient, definition: ProjectionDefinition, version: number, fallback: Position): Promise<Position[]> {
  const partitions = partitionCount(definition);
  await client.query(
    "INSERT INTO projection_checkpoints (projection, version, partition, position) SELECT $1, $2, p, $3 FROM generate_series(0, $4 - 1) AS p ON CONFLICT DO NOTHING",
    [definition.name, version, encodePosition(fallback), partitions],
  );
  const rows = await client.query<{ partition: number; position: string }>("SELECT partition, position FROM projection_checkpoints WHERE projection = $1 AND version = $2", [definition.name, version]);
  const checkpoints = Array.from({ length: partitions }, () => fallback);
  for (const row of rows.rows) if (row.partition < partitions) checkpoints[row.partition] = parsePosition(row.position) ?? START;
  return checkpoints;
}

async function tablesEmpty(client: PoolClient, definition: ProjectionDefinition, version: number): Promise<boolean> {
  for (const model of definition.tables) {
    const found = await client.query(`SELECT 1 FROM ${ident(tableName(model.table, version))} LIMIT 1`);
    if ((found.rowCount ?? 0) > 0) return false;
  }
  return true;
}

/** Reads the rows with these keys (no lock: the build is the version's only writer). */
async function loadRows(client: Pool, definition: ProjectionDefinition, version: number, table: string, keys: readonly string[]): Promise<Map<string, Row>> {
  const model = definition.tables.find((candidate) => candidate.table === table);
  if (!model) throw new Error(`Projection ${definition.name} touches unknown table ${table}`);
  const result = await client.query<Record<string, unknown>>(
    `SELECT ${selectList(model)} FROM ${ident(tableName(table, version))} AS t WHERE t.${ident(model.key)} = ANY($1::${keyType(model)}[])`,
    [keys],
  );
  const rows = new Map<string, Row>();
  for (const raw of result.rows) {
    const row = rowFromDatabase(model, raw);
    rows.set(String(row[model.key]), row);
  }
  return rows;
}

/** Runs a build (see the module comment); resolves with where it left the version. */
export async function runBuild(deps: BuildDeps, definition: ProjectionDefinition, request: BuildRequest, hooks: BuildHooks): Promise<BuildResult> {
  const through = parsePosition(request.through);
  if (!through) throw new Error(`not a position: ${request.through}`);
  // Flushes on this connection; row lookups go through the pool (a flush may be in progress meanwhile).
  const client = await deps.pool.connect();
  let reader: pg.Client | null = null;
  let views: RespWriter | null = null;
  let flushing: Promise<void> | null = null;
  try {
    const progress = await client.query<{ position: string; events_done: string }>("SELECT position, events_done FROM projections WHERE name = $1 AND version = $2", [definition.name, request.version]);
    const row = progress.rows[0];
    if (!row) throw new Error(`projection ${definition.name} v${request.version} is not registered`);
    const after = parsePosition(row.position) ?? START;
    let consumed = Number(row.events_done);
    const result: BuildResult = { position: encodePosition(after), consumed, events: 0, rowsWritten: 0, flushes: 0, viewsFailed: false };
    if (comparePositions(after, through) >= 0) return result;
    const checkpoints = await loadCheckpoints(client, definition, request.version, after);
    const empty = await tablesEmpty(client, definition, request.version);
    const cache = new RowCache(definition, { partitions: checkpoints.length, checkpoints: [...checkpoints], emptyTables: empty, maxRows: request.cachedRows ?? MAX_CACHED_ROWS });
    const eventsPerFlush = request.flushEvents ?? FLUSH_EVENTS;
    const rowsPerFlush = request.flushRows ?? FLUSH_ROWS;
    if (request.views && deps.connectViews) {
      try {
        views = await deps.connectViews();
      } catch {
        // Redis unreachable: no views this build; they are restored from the rows afterwards.
        result.viewsFailed = true;
        await client.query("UPDATE projections SET views_dirty = true WHERE name = $1 AND version = $2", [definition.name, request.version]);
        hooks.viewsFailed();
      }
    }
    const target: FlushTarget = {
      client,
      redis: views,
      definition,
      version: request.version,
      checkpoints,
      viewsFresh: request.viewsFresh && empty,
    };
    let periodEvents = 0;
    let last: Position | null = null;
    // A flush writes the period just folded while the next one is read and folded: one in
    // flight at a time, and the next starts only once it committed.
    const flush = async (): Promise<void> => {
      if (flushing) await flushing;
      if (last === null) return;
      const position = last;
      const upTo = consumed;
      const rows = cache.takeDirty();
      periodEvents = 0;
      last = null;
      flushing = (async () => {
        const outcome = await flushRows(target, rows, position, upTo);
        cache.flushed(rows, outcome.stored);
        result.rowsWritten += outcome.rowsWritten;
        result.flushes++;
        result.position = encodePosition(position);
        result.consumed = upTo;
        if (outcome.viewsFailed) {
          // Views missed writes: no more of them this build; they are restored from the rows afterwards.
          result.viewsFailed = true;
          target.redis = null;
          hooks.viewsFailed();
        }
        hooks.progress(result.position, upTo);
      })();
      flushing.catch(() => undefined);
    };
    reader = await deps.connectReader();
    for await (const chunk of readLogRange(reader, { after, through, types: definition.handles, chunkEvents: Math.min(CHUNK_EVENTS, eventsPerFlush) })) {
      if (hooks.stopped()) break;
      const missing = cache.missing(chunk.events);
      for (const [table, keys] of missing) cache.loaded(table, await loadRows(deps.pool, definition, request.version, table, keys));
      cache.fold(chunk.events);
      result.events += chunk.events.length;
      consumed += chunk.read;
      periodEvents += chunk.read;
      last = chunk.through;
      if (periodEvents >= eventsPerFlush || cache.dirtyCount >= rowsPerFlush) await flush();
    }
    if (!hooks.stopped()) await flush();
    if (flushing) await flushing;
    return result;
  } finally {
    await (flushing as Promise<void> | null)?.catch(() => undefined);
    client.release();
    views?.close();
    await reader?.end().catch(() => undefined);
  }
}
