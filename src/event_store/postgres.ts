/**
 * The PostgreSQL event store. Appends go through the `append_events_batch` SQL function
 * (group commit, see pg_append_batch.ts: atomic optimistic concurrency on the `streams` row,
 * idempotency key in the same transaction, one round trip for all appends waiting).
 * Readers read by (transaction id, sequence) below the snapshot's xmin, so an event
 * committed late by a slow transaction is still read: nothing can ever appear below a
 * position already read.
 */
import type { Pool } from "../db/pool.ts";
import { createPool, isConnectionError } from "../db/pool.ts";
import { StoreUnavailableError } from "../shared/errors.ts";
import type { Position } from "../shared/position.ts";
import { decodePayload, rememberWireForms } from "./codec.ts";
import { AppendBatcher, type AppendBatcherOptions } from "./pg_append_batch.ts";
import { Wakeup } from "./pg_wakeup.ts";
import { SharedWindow, type ReadResult } from "./shared_window.ts";
import type { AppendOptions, AppendResult, EventMetadata, EventStore, NewEvent, RecordedEvent, StreamRead, SubscribeOptions } from "./types.ts";
import { named } from "../db/statements.ts";

export interface PostgresStoreOptions {
  /** Defaults to the pool's connection string; used for the LISTEN/NOTIFY connection. */
  connectionString?: string;
  /** Longest wait between reads when no notification arrives (covers missed notifications). */
  idlePollMs?: number;
  /** Events the shared read window of subscribers holds at most, so projections moving together read the log once (default 10,000: one bulk batch; 0 disables). */
  recentEvents?: number;
  /** How long a subscriber at the window's end waits for the slowest one inside before dropping it (default 3 s). */
  windowMaxWaitMs?: number;
  onError?: (error: Error) => void;
  /** Group commit of appends (calls in flight, appends per call). */
  appendBatch?: AppendBatcherOptions;
  /** Shortest time between two NOTIFYs that wake other processes (default NOTIFY_MIN_INTERVAL_MS, 5 ms). */
  notifyMinIntervalMs?: number;
}

interface EventRow {
  tx: string;
  global_position: string;
  event_id: string;
  stream_id: string;
  stream_version: string;
  type: string;
  data: Buffer;
  metadata: Buffer;
}

const COLUMNS = "transaction_id::text AS tx, global_position, event_id, stream_id, stream_version, type, data, metadata";
/** Events readers by position may see: below the oldest open transaction (committed for good). */
export const VISIBLE = "transaction_id < pg_snapshot_xmin(pg_current_snapshot())";

/**
 * The log read by position: $1/$2 the position after which to read, $3 the limit. Rows are
 * the events in log order, then one marker row (NULL event id) whose `hidden` tells whether
 * committed events after the position exist that readers cannot see yet.
 */
export const LOG_READ_SQL = `SELECT tx, global_position, event_id, stream_id, stream_version, type, data, metadata, NULL::boolean AS hidden
         FROM (SELECT ${COLUMNS} FROM events
                WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint) AND ${VISIBLE}
                ORDER BY transaction_id, global_position LIMIT $3) AS visible
       UNION ALL
       SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
              EXISTS (SELECT 1 FROM events
                       WHERE (transaction_id, global_position) >= (pg_snapshot_xmin(pg_current_snapshot()), 0)
                         AND (transaction_id, global_position) > ($1::xid8, $2::bigint))`;

/**
 * Planner settings of the log-read sessions. The planner has no statistics to estimate a
 * range of xid8 (it assumes a third of the table), so a read of 20,000 events from a
 * 100,000-event log looked like most of the table to it: it chose a bitmap scan and a sort
 * of everything after the position (300 ms from position 0, spilling to disk) over the
 * ordered index scan that stops at the limit (18 ms). Reads of the log always walk
 * events_global_order in order; these settings leave the planner nothing else.
 *
 * With nothing else to choose, the plan is the same for every position and limit: the reads
 * and the head query are prepared once per session (named statements) and planned once
 * (generic plans). Planned at every call, the live read took ~290 µs of planning per read
 * (~35 µs per placed order at 32 connections).
 */
export const LOG_READ_SETTINGS = { enable_bitmapscan: "off", enable_seqscan: "off", plan_cache_mode: "force_generic_plan" } as const;

function toRecorded(row: EventRow): RecordedEvent {
  return {
    eventId: row.event_id,
    streamId: row.stream_id,
    streamVersion: Number(row.stream_version),
    type: row.type,
    data: decodePayload(row.data),
    metadata: decodePayload<EventMetadata>(row.metadata),
    position: { commit: BigInt(row.tx), prepare: BigInt(row.global_position) },
  };
}

/** Wraps a query so an unreachable database surfaces as StoreUnavailableError (503). */
async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isConnectionError(error)) throw new StoreUnavailableError("PostgreSQL", { cause: error });
    throw error;
  }
}

export class PostgresEventStore implements EventStore {
  readonly kind = "postgres" as const;
  #pool: Pool;
  /** Sessions for reads of the log by position (LOG_READ_SETTINGS); few at once: the shared window reads for every subscriber of the process. */
  #logPool: Pool;
  #wakeup: Wakeup;
  #idlePollMs: number;
  #window: SharedWindow | null;
  #appends: AppendBatcher;

  constructor(pool: Pool, options: PostgresStoreOptions = {}) {
    this.#pool = pool;
    const connectionString = options.connectionString ?? (pool as unknown as { options: { connectionString?: string } }).options.connectionString;
    if (!connectionString) throw new Error("createPostgresStore needs a connection string for LISTEN/NOTIFY");
    this.#logPool = createPool({ connectionString, max: 6, applicationName: "commerce-cqrs-log", settings: LOG_READ_SETTINGS, ...(options.onError ? { onError: options.onError } : {}) });
    this.#wakeup = new Wakeup(connectionString, options.onError, options.notifyMinIntervalMs === undefined ? {} : { notifyMinIntervalMs: options.notifyMinIntervalMs });
    this.#idlePollMs = options.idlePollMs ?? 1000;
    this.#appends = new AppendBatcher(pool, () => this.#wakeup.appended(), options.appendBatch);
    const recent = options.recentEvents ?? 10_000;
    this.#window = recent > 0 ? new SharedWindow({ capacity: recent, read: (after, limit) => this.#readAllFromDatabase(after, limit), ...(options.windowMaxWaitMs === undefined ? {} : { maxWaitMs: options.windowMaxWaitMs }) }) : null;
  }

  append(streamId: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    if (events.length === 0) return Promise.reject(new Error("append needs at least one event"));
    return this.#appends.append(streamId, events, options);
  }

  async readStream(streamId: string): Promise<StreamRead> {
    const result = await guarded(() =>
      this.#pool.query<EventRow>(named(`SELECT ${COLUMNS} FROM events WHERE stream_id = $1 ORDER BY stream_version`, [streamId])),
    );
    const events = result.rows.map(toRecorded);
    return { version: events.at(-1)?.streamVersion ?? 0, events };
  }

  async readStreams(streamIds: readonly string[]): Promise<Map<string, StreamRead>> {
    const reads = new Map<string, StreamRead>(streamIds.map((id) => [id, { version: 0, events: [] }]));
    if (streamIds.length === 0) return reads;
    const result = await guarded(() =>
      // Prepared once per connection, like the appends (every command reads its streams first).
      this.#pool.query<EventRow>(named(`SELECT ${COLUMNS} FROM events WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version`, [[...new Set(streamIds)]])),
    );
    for (const row of result.rows) {
      const event = toRecorded(row);
      const read = reads.get(event.streamId)!;
      read.events.push(event);
      read.version = event.streamVersion;
    }
    return reads;
  }

  async readAll(after: Position | null, limit: number): Promise<RecordedEvent[]> {
    // Not for subscribers (a status count of the lag, a one-off read): no wire forms packed.
    return this.#window?.peek(after, limit) ?? (await this.#readAllFromDatabase(after, limit, false)).events;
  }

  /**
   * Up to `limit` visible events after `after`. The same round trip tells whether committed
   * events after `after` exist that readers cannot see yet (behind an older open
   * transaction, at or above the snapshot's xmin): when the read reached the end, the caller
   * then re-reads soon instead of sleeping until the next wake-up. That check is one probe of
   * the index at xmin, so it stays cheap however long the log (written as a row comparison:
   * with a plain `transaction_id >=` the index scan started at `after` instead, 3.6 ms from
   * position 0 of 100,000 events).
   *
   * The events come straight from the ordered index scan with its limit: an earlier form
   * materialized them in a CTE and sorted them again (at 20,000 events of a bulk batch the
   * sort spilled 11 MB to disk, 104 ms for a 34 ms scan).
   */
  async #readAllFromDatabase(after: Position | null, limit: number, forSubscribers = true): Promise<ReadResult> {
    const from = after ?? { commit: 0n, prepare: 0n };
    const result = await guarded(() =>
      this.#logPool.query<EventRow & { hidden: boolean | null }>({
        name: "log_read",
        text: LOG_READ_SQL,
        values: [from.commit.toString(), from.prepare.toString(), limit],
      }),
    );
    const marker = result.rows.find((row) => row.event_id === null);
    const rows = result.rows.filter((row) => row !== marker);
    const events = rows.map(toRecorded);
    // Subscribers hand these events to worker threads: their wire forms are packed now, from
    // the stored bytes, which are then not kept.
    if (forSubscribers) rememberWireForms(events, rows);
    const end = events.length < limit;
    return { events, hidden: end && marker?.hidden === true, end };
  }

  async headPosition(): Promise<Position | null> {
    const result = await guarded(() =>
      this.#logPool.query<{ tx: string; global_position: string }>({
        name: "log_head",
        text: `SELECT transaction_id::text AS tx, global_position FROM events WHERE ${VISIBLE}
                ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
      }),
    );
    const row = result.rows[0];
    return row ? { commit: BigInt(row.tx), prepare: BigInt(row.global_position) } : null;
  }

  async *subscribeAll(options: SubscribeOptions): AsyncIterable<RecordedEvent[]> {
    const { signal, batchSize } = options;
    let position = options.after;
    let backoffMs = 0;
    await this.#wakeup.listen().catch((error: unknown) => {
      if (!isConnectionError(error)) throw error;
    });
    const reader = this.#window?.join() ?? null;
    // False after a wait that ended without a wake-up (the idle poll, a back-off): then the
    // next read goes to the database, never answered from what the window knows of the end
    // of the log, because the poll exists for events no wake-up announced (a commit whose
    // client lost its connection before the answer, a missed NOTIFY).
    let woken = true;
    const sleep = async (seen: number, ms: number): Promise<void> => {
      await this.#wakeup.wait(seen, ms, signal);
      woken = this.#wakeup.counter !== seen;
    };
    try {
      while (!signal.aborted) {
        const seen = this.#wakeup.counter;
        let read: ReadResult;
        try {
          read = reader
            ? await this.#window!.next(reader, position, batchSize, woken ? seen : Number.POSITIVE_INFINITY)
            : await this.#readAllFromDatabase(position, batchSize);
        } catch (error) {
          if (!(error instanceof StoreUnavailableError)) throw error;
          backoffMs = Math.min(Math.max(backoffMs * 2, 100), 2000);
          await sleep(seen, backoffMs);
          continue;
        }
        woken = true;
        const batch = read.events;
        if (batch.length > 0) {
          position = batch.at(-1)!.position;
          backoffMs = 0;
          yield batch;
          continue;
        }
        // Nothing visible. Committed events may still be hidden behind an older open
        // transaction (the xmin horizon): then re-read soon, backing off; else sleep until
        // the next wake-up (or the idle poll, which covers a missed notification).
        if (read.hidden) {
          backoffMs = Math.min(Math.max(backoffMs * 2, 2), 250);
          await sleep(this.#wakeup.counter, backoffMs);
        } else {
          backoffMs = 0;
          await sleep(seen, this.#idlePollMs);
        }
      }
    } finally {
      if (reader) this.#window!.leave(reader);
    }
  }

  async ping(): Promise<void> {
    await guarded(() => this.#pool.query("SELECT 1"));
  }

  async close(): Promise<void> {
    await this.#wakeup.close();
    await this.#logPool.end().catch(() => undefined);
  }
}

/** Creates the PostgreSQL event store on a pool (the pool stays the caller's to end). */
export function createPostgresStore(pool: Pool, options: PostgresStoreOptions = {}): PostgresEventStore {
  return new PostgresEventStore(pool, options);
}
