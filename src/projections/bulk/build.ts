/**
 * A bulk build: brings projection versions from their checkpoint to a settled head of the
 * log in one pass, in a worker thread. The log streams in by binary COPY (only the
 * projections' event types decoded, once for all of them), rows are folded in memory across
 * chunks (RowCache) and written once per flush, with the checkpoints and the watermark in the
 * same transaction (flush.ts). Against a batch per 10,000 events, each loading, finalizing and
 * writing every row it touches, a row many events touch (a product's sales) is finalized and
 * written once per flush, and a new row is written once, by COPY.
 *
 * Several projections that start from the same position build together (a group): one read of
 * the log feeds each one's fold; each flushes on its own, and one that fails or is stopped
 * leaves the others going.
 *
 * Memory is bounded by the flush period (events and rows between flushes) and by the rows
 * kept for the next period, not by the length of the log. Stopping abandons the period in
 * progress: the next run resumes from the last flush.
 */
import type pg from "pg";
import type { Pool, PoolClient } from "../../db/pool.ts";
import type { RecordedEvent } from "../../event_store/types.ts";
import { comparePositions, encodePosition, parsePosition, START, type Position } from "../../shared/position.ts";
import type { ProjectionDefinition } from "../define.ts";
import { partitionCount } from "../runner/partition.ts";
import { modelOf } from "../runner/apply_partition.ts";
import { readRowsByKeys } from "../runner/row_io.ts";
import { tablesEmpty } from "../runner/schema.ts";
import { flushRows, type FlushTarget } from "./flush.ts";
import { readLogRange, type LogChunk } from "./log_copy.ts";
import type { RespWriter } from "./resp_writer.ts";
import { MAX_CACHED_ROWS, RowCache, type CachedRow, type ReadMark } from "./row_cache.ts";

export interface BuildRequest {
  /** Physical version written. */
  version: number;
  /** Write Redis views (false: none, e.g. no Redis). */
  views: boolean;
  /** The version's Redis key space was cleared when it started (nothing there for rows it never wrote). */
  viewsFresh: boolean;
  /** Log events between flushes (default FLUSH_EVENTS). */
  flushEvents?: number;
  /** Rows folded between flushes (default FLUSH_ROWS). */
  flushRows?: number;
  /** New rows (not in the table yet) folded between flushes (default FLUSH_NEW_ROWS). */
  flushNewRows?: number;
  /** Rows kept from one flush to the next (default MAX_CACHED_ROWS). */
  cachedRows?: number;
  /** Log events an unsettled row may be held back unwritten (default HOLD_EVENTS; 0: none held). */
  holdEvents?: number;
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
  /** Events read and folded so far, flushed or not (for progress displays: every READ_REPORT_EVENTS or so). */
  reading?(consumed: number): void;
}

export interface BuildDeps {
  /**
   * Writes (flushes) and lookups. Commits wait for the WAL flush: the build goes on from what it
   * holds in memory, so a flush that PostgreSQL lost in a crash (committed asynchronously, not yet
   * on disk) would leave a gap that nothing redoes while this process lives.
   */
  pool: Pool;
  /** Opens the connection the log is streamed over (ended afterwards). */
  connectReader(): Promise<pg.Client>;
  /** Opens the connection views are written over (closed afterwards); null: no Redis. Throws when Redis cannot be reached. */
  connectViews: (() => Promise<RespWriter>) | null;
}

/**
 * Log events between flushes, and rows folded between flushes, whichever comes first. A
 * flush rewrites every row folded since the last one: a product's sales counters change all
 * period long, so each flush rewrites the catalog (46,743 product rows written over a 1M-event
 * log at 100,000 events per flush; its build alone took 6.6 s against 3.9 s with no flush by
 * events, two by rows). Bounds the work redone after a crash and the steps of stored progress; displays
 * follow reading() in between.
 */
export const FLUSH_EVENTS = 250_000;
/** Events read between two reading() reports. */
const READ_REPORT_EVENTS = 10_000;
/**
 * Rows folded between flushes, and new rows (rows the table does not hold yet; they count
 * toward FLUSH_ROWS too); rows held back (HOLD_EVENTS) count toward neither. A row folded
 * again after a flush is written again (finalized, its views moved, an upsert instead of a
 * COPY). In a log appended in business time (payment minutes to hours after placement,
 * shipment days later: an order's events 13,485 log events apart at the median, 29,947 at
 * p90, in the seed's 1M-event history), before rows were held back, a replay CLI of all three
 * projections took 85.6-87.8 s at 5,000 rows / 1,500 new rows per period (393-394 MiB), 65-68 s
 * at 20,000 / 8,000 (450-489 MiB), 52-54 s at 50,000 / 20,000 (616-617 MiB). With orders held
 * until they settle, a period writes mostly settled orders once: 24.3-29.4 s at 10,000 / 4,000
 * (427-464 MiB, four runs) against 32.5-38.7 s at 20,000 / 8,000 (454-494 MiB, three runs
 * alternating with them; a large period's finalized bytes and RESP stage outlive young
 * collections) and 32.3 s at 5,000 / 2,000. See bench/RESULTS.md.
 */
export const FLUSH_ROWS = 10_000;
export const FLUSH_NEW_ROWS = 4000;
/**
 * Log events a row may be held back unwritten, folded on across flushes, while it is not
 * settled, for projections whose reduce ignores events a row already reflects (see
 * ProjectionDefinition.ignoresRedelivery). In a log appended in business time an order is
 * placed, paid and shipped over ~13,500 log events (median; p99 ~35,000): flushed every
 * 20,000 rows, it was written (finalized, upserted, its views sent) once per event; held,
 * once, mostly by COPY. The flush's watermark stays before the held rows' first events, so a
 * crash redoes at most this many events more (their rows written already take them as no-ops).
 * A replay CLI of all three projections over the 1M-event log: 54.3 s without holding, 24.1-35.5
 * s holding for 50,000 (the same hour); 29.6 s for 30,000; 27.6 and 34.4 s for 100,000, with
 * 506 MiB at the most (held rows stay in memory, uncompacted).
 */
export const HOLD_EVENTS = 50_000;
/** Projections built together at most (each holds a connection of its own for its flushes). */
export const MAX_GROUP = 3;
/**
 * Log events read, looked up and folded at a time. Small, so a chunk's decoded events die
 * young: V8 promotes what outlives two scavenges (16 MiB of allocation each), and a chunk of
 * 5,000 events (~28 MiB decoded) outlived them while it filled, every time. Reading the
 * orders projection's 982,838 events of a 1M log: 1.59 GB promoted and 3.5 s of scavenges at
 * 5,000, 6 MB and 0.3 s at 250 (15.0 against 7.5 s of CPU); its whole build: 15-20% less CPU.
 */
const CHUNK_EVENTS = 250;

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

/** One projection of a build: its rows, flushes and result. */
class MemberBuild {
  readonly definition: ProjectionDefinition;
  readonly after: Position;
  readonly result: BuildResult;
  /** Set when it failed: the others go on; its own error is reported. */
  error: unknown = null;
  readonly #pool: Pool;
  readonly #request: BuildRequest;
  readonly #hooks: BuildHooks;
  readonly #client: PoolClient;
  readonly #cache: RowCache;
  readonly #target: FlushTarget;
  readonly #views: RespWriter | null;
  #consumed: number;
  #periodEvents = 0;
  #reported = 0;
  /** Events read since the last flush (its watermark can move on). */
  #unflushed = false;
  /** Where the build stands before the chunk it takes next. */
  #read: ReadMark;
  /** Rows the last flush held back, and of those, new rows (not counted toward the next period). */
  #held = 0;
  #heldNew = 0;
  #flushing: Promise<void> | null = null;

  private constructor(init: {
    pool: Pool; definition: ProjectionDefinition; request: BuildRequest; hooks: BuildHooks; client: PoolClient;
    after: Position; consumed: number; cache: RowCache; target: FlushTarget; views: RespWriter | null; result: BuildResult;
  }) {
    this.#pool = init.pool;
    this.definition = init.definition;
    this.#request = init.request;
    this.#hooks = init.hooks;
    this.#client = init.client;
    this.after = init.after;
    this.#consumed = init.consumed;
    this.#read = { position: init.after, consumed: init.consumed };
    this.#cache = init.cache;
    this.#target = init.target;
    this.#views = init.views;
    this.result = init.result;
  }

  /** Reads where the version stands and prepares its rows (a connection of its own for its flushes). */
  static async open(deps: BuildDeps, member: BuildMember): Promise<MemberBuild> {
    const { definition, request, hooks } = member;
    const client = await deps.pool.connect();
    let views: RespWriter | null = null;
    try {
      const progress = await client.query<{ position: string; events_done: string }>("SELECT position, events_done FROM projections WHERE name = $1 AND version = $2", [definition.name, request.version]);
      const row = progress.rows[0];
      if (!row) throw new Error(`projection ${definition.name} v${request.version} is not registered`);
      const after = parsePosition(row.position) ?? START;
      const consumed = Number(row.events_done);
      const result: BuildResult = { position: encodePosition(after), consumed, events: 0, rowsWritten: 0, flushes: 0, viewsFailed: false };
      const checkpoints = await loadCheckpoints(client, definition, request.version, after);
      const empty = await tablesEmpty(client, definition, request.version);
      const cache = new RowCache(definition, { partitions: checkpoints.length, checkpoints: [...checkpoints], emptyTables: empty, maxRows: request.cachedRows ?? MAX_CACHED_ROWS });
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
      const target: FlushTarget = { client, redis: views, definition, version: request.version, checkpoints, viewsFresh: request.viewsFresh && empty };
      return new MemberBuild({ pool: deps.pool, definition, request, hooks, client, after, consumed, cache, target, views, result });
    } catch (error) {
      client.release();
      views?.close();
      throw error;
    }
  }

  /** Log events between its flushes. */
  get flushEvents(): number {
    return this.#request.flushEvents ?? FLUSH_EVENTS;
  }

  /** True while it takes events: not failed, not stopped. */
  get active(): boolean {
    return this.error === null && !this.#hooks.stopped();
  }

  /** Folds a chunk's events of its types (`events`, log order) and flushes when a period is full. */
  async take(chunk: LogChunk, events: readonly RecordedEvent[]): Promise<void> {
    const cache = this.#cache;
    const refs = cache.refs(events);
    // Read without a lock: the build is the version's only writer.
    for (const [table, keys] of cache.missing(refs)) cache.loaded(table, await readRowsByKeys(this.#pool, modelOf(this.definition, table), this.#request.version, keys));
    cache.fold(events, refs, this.#read);
    this.result.events += events.length;
    this.#consumed += chunk.read;
    this.#periodEvents += chunk.read;
    this.#unflushed = true;
    this.#read = { position: chunk.through, consumed: this.#consumed };
    if (
      this.#periodEvents >= this.flushEvents ||
      cache.dirtyCount - this.#held >= (this.#request.flushRows ?? FLUSH_ROWS) ||
      cache.dirtyNewCount - this.#heldNew >= (this.#request.flushNewRows ?? FLUSH_NEW_ROWS)
    ) await this.#flush(false);
    else if (this.#consumed - this.#reported >= READ_REPORT_EVENTS) {
      this.#reported = this.#consumed;
      this.#hooks.reading?.(this.#consumed);
    }
  }

  /**
   * Which rows a flush holds back (none in the last one): unsettled rows of a projection that
   * ignores redelivered events, for HOLD_EVENTS at most since their first unwritten event.
   */
  #holding(last: boolean): ((entry: CachedRow) => boolean) | undefined {
    const { definition } = this;
    const settled = definition.settled;
    const limit = this.#request.holdEvents ?? HOLD_EVENTS;
    if (last || !definition.ignoresRedelivery || !settled || limit <= 0) return undefined;
    const consumed = this.#consumed;
    return (entry) =>
      entry.current !== undefined && entry.since !== null && consumed - entry.since.consumed < limit && !settled(entry.ref.table, entry.current);
  }

  /**
   * Writes the period just folded while the next one is read and folded: one flush in flight
   * at a time, and the next starts only once it committed. Rows held back keep the
   * watermark before their first events.
   */
  async #flush(last: boolean): Promise<void> {
    if (this.#flushing) await this.#flushing;
    // Nothing read since the last flush, and nothing it held back.
    if (!this.#unflushed && this.#held === 0) return;
    const taken = this.#cache.takeDirty(this.#holding(last));
    const rows = taken.write;
    const position = taken.since?.position ?? this.#read.position;
    const upTo = taken.since?.consumed ?? this.#read.consumed;
    this.#held = taken.held;
    this.#heldNew = taken.heldNew;
    this.#periodEvents = 0;
    this.#unflushed = false;
    const result = this.result;
    const flushing = (async () => {
      const outcome = await flushRows(this.#target, rows, position, upTo);
      this.#cache.flushed(rows, outcome.stored);
      result.rowsWritten += outcome.rowsWritten;
      result.flushes++;
      result.position = encodePosition(position);
      result.consumed = upTo;
      if (outcome.viewsFailed) {
        // Views missed writes: no more of them this build; they are restored from the rows afterwards.
        result.viewsFailed = true;
        this.#target.redis = null;
        this.#hooks.viewsFailed();
      }
      this.#hooks.progress(result.position, upTo);
    })();
    flushing.catch(() => undefined);
    this.#flushing = flushing;
  }

  /** Flushes what is folded (unless stopped or failed) and waits for its flushes. */
  async finish(): Promise<void> {
    if (this.active) await this.#flush(true);
    if (this.#flushing) await this.#flushing;
  }

  /** Records a failure (after its flush in flight settled). */
  async fail(error: unknown): Promise<void> {
    this.error ??= error;
    await this.settle();
  }

  /** Waits for its flush in flight, if any, whatever its outcome. */
  async settle(): Promise<void> {
    await this.#flushing?.catch(() => undefined);
  }

  close(): void {
    this.#client.release();
    this.#views?.close();
  }
}

/** A projection of a group build: its definition, what to build, and its hooks. */
export interface BuildMember {
  definition: ProjectionDefinition;
  request: BuildRequest;
  hooks: BuildHooks;
}

/** What a group build says of each member: its result, or why it failed. */
export type MemberOutcome = { ok: true; result: BuildResult } | { ok: false; error: unknown };

/**
 * Runs a group build up to `through` (wire form; see the module comment). Members that stand
 * at the same position share one read of the log (normally all: the main thread groups them
 * so); a member already at or past `through` is done at once. Resolves with one outcome per
 * member, in order; rejects only when the log cannot be read.
 */
export async function runGroupBuild(deps: BuildDeps, throughWire: string, members: readonly BuildMember[]): Promise<MemberOutcome[]> {
  const through = parsePosition(throughWire);
  if (!through) throw new Error(`not a position: ${throughWire}`);
  const opened: MemberBuild[] = [];
  const slots: (MemberBuild | { error: unknown })[] = [];
  try {
    for (const member of members) {
      try {
        const build = await MemberBuild.open(deps, member);
        opened.push(build);
        slots.push(build);
      } catch (error) {
        slots.push({ error });
      }
    }
    // Those that start from the same position read the log together (normally all of them).
    const groups = new Map<string, MemberBuild[]>();
    for (const member of opened) {
      if (comparePositions(member.after, through) >= 0) continue;
      const key = encodePosition(member.after);
      groups.set(key, [...(groups.get(key) ?? []), member]);
    }
    for (const building of groups.values()) await buildFrom(deps, building, through);
    return slots.map((slot) => (slot instanceof MemberBuild ? (slot.error === null ? { ok: true, result: slot.result } : { ok: false, error: slot.error }) : { ok: false, error: slot.error }));
  } finally {
    for (const member of opened) {
      await member.settle();
      member.close();
    }
  }
}

/** Reads the log once from the members' common position to `through`, each folding and flushing its own events. */
async function buildFrom(deps: BuildDeps, building: readonly MemberBuild[], through: Position): Promise<void> {
  const after = building[0]!.after;
  const types = new Set(building.flatMap((member) => [...member.definition.handles]));
  const chunkEvents = Math.min(CHUNK_EVENTS, ...building.map((member) => member.flushEvents));
  const reader = await deps.connectReader();
  try {
    for await (const chunk of readLogRange(reader, { after, through, types, chunkEvents })) {
      const active = building.filter((member) => member.active);
      if (active.length === 0) break;
      for (const member of active) {
        const handles = member.definition.handles;
        const events = building.length === 1 ? chunk.events : chunk.events.filter((event) => handles.has(event.type));
        try {
          await member.take(chunk, events);
        } catch (error) {
          await member.fail(error);
        }
      }
    }
  } finally {
    await reader.end().catch(() => undefined);
  }
  for (const member of building) {
    try {
      await member.finish();
    } catch (error) {
      await member.fail(error);
    }
  }
}
