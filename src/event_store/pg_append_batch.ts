/**
 * Group commit for the PostgreSQL store: appends that arrive while earlier ones are running
 * are sent together, in one call of `append_events_batch` (migration 0006), one transaction
 * and one WAL flush. Each append is still decided on its own (guard, expected version,
 * idempotency key), so its result is what a call of its own would have given.
 *
 * An idle store sends an append at once (a batch of one): batching costs no waiting, it
 * only gathers what queues up behind the calls in flight. A second call goes out only once
 * the first has run SECOND_CALL_AFTER_MS (see there). A batch that fails as a whole
 * (deadlock, a value PostgreSQL refuses) is retried one append per call, so only the append
 * at fault fails; a lost connection fails the batch's appends as it would fail one.
 */
import type { Pool } from "../db/pool.ts";
import { isConnectionError } from "../db/pool.ts";
import { DuplicateIdempotencyKeyError, StaleGuardError, StoreUnavailableError, WrongExpectedVersionError } from "../shared/errors.ts";
import { encodePayload } from "./codec.ts";
import type { AppendOptions, AppendResult, NewEvent } from "./types.ts";
import { named } from "../db/statements.ts";

const BATCH_SQL = `SELECT item, ok, version, tx::text AS tx, last_position, stale_streams, duplicate_key
  FROM append_events_batch($1::text[], $2::text[], $3::bigint[], $4::int[], $5::uuid[], $6::text[], $7::bytea[], $8::bytea[],
                           $9::text[], $10::text[], $11::text[], $12::int[], $13::text[], $14::int[], $15::text[], $16::bigint[])`;

/** Deadlock detected, serialization failure: the transaction was rolled back whole. */
const RETRYABLE = new Set(["40P01", "40001"]);

interface BatchRow {
  item: number;
  ok: boolean;
  version: string | null;
  tx: string | null;
  last_position: string | null;
  stale_streams: string[] | null;
  duplicate_key: boolean;
}

interface PendingAppend {
  streamId: string;
  events: NewEvent[];
  options: AppendOptions;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

export interface AppendBatcherOptions {
  /** Calls running at once (default 2): more appends wait and go in the next batch. */
  maxInFlight?: number;
  /**
   * A call beyond the first starts only once the oldest call in flight has run this long (ms,
   * default SECOND_CALL_AFTER_MS): a quick call is waited for, and the next one carries
   * everything queued meanwhile; a slow one (its WAL flush behind a busy disk) no longer
   * holds the queue.
   */
  secondCallAfterMs?: number;
  /** Appends per call at most (default 256). */
  maxBatch?: number;
}

/**
 * See AppendBatcherOptions.secondCallAfterMs. Place-order at 32 connections on a host whose
 * calls take a few ms: 3,351-3,358 orders/s with one call in flight against 3,027-3,073 with
 * two (fewer, larger batches: less CPU per order on 2 busy cores), the same at 128; on a host
 * with slow WAL flushes one call in flight had doubled p99 at 128 connections (303 against
 * 144 ms), which a second call after this long avoids.
 */
export const SECOND_CALL_AFTER_MS = 5;

export class AppendBatcher {
  #pool: Pool;
  #queue: PendingAppend[] = [];
  /** performance.now() when each call in flight started, oldest first (one entry per call). */
  #started: number[] = [];
  #maxInFlight: number;
  #maxBatch: number;
  #secondCallAfterMs: number;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #onAppended: () => void;

  constructor(pool: Pool, onAppended: () => void, options: AppendBatcherOptions = {}) {
    this.#pool = pool;
    this.#onAppended = onAppended;
    this.#maxInFlight = options.maxInFlight ?? 2;
    this.#maxBatch = options.maxBatch ?? 256;
    this.#secondCallAfterMs = options.secondCallAfterMs ?? SECOND_CALL_AFTER_MS;
  }

  append(streamId: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      this.#queue.push({ streamId, events, options, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#started.length < this.#maxInFlight && this.#queue.length > 0) {
      if (this.#started.length > 0) {
        const ran = performance.now() - this.#started[0]!;
        if (ran < this.#secondCallAfterMs) {
          this.#timer ??= setTimeout(() => {
            this.#timer = null;
            this.#pump();
          }, this.#secondCallAfterMs - ran);
          return;
        }
      }
      const batch = this.#queue.splice(0, this.#maxBatch);
      const started = performance.now();
      this.#started.push(started);
      void this.#send(batch)
        // An unexpected failure while answering: whatever is still unanswered fails with it (a settled append stays as it is).
        .catch((error: unknown) => batch.forEach((pending) => pending.reject(error)))
        .finally(() => {
          this.#started.splice(this.#started.indexOf(started), 1);
          this.#pump();
        });
    }
  }

  async #send(batch: PendingAppend[], attempt = 1): Promise<void> {
    let rows: BatchRow[];
    try {
      // Prepared once per connection (it was parsed and planned at every call).
      rows = (await this.#pool.query<BatchRow>(named(BATCH_SQL, parameters(batch)))).rows;
    } catch (error) {
      if (isConnectionError(error)) {
        const unavailable = new StoreUnavailableError("PostgreSQL", { cause: error });
        for (const pending of batch) pending.reject(unavailable);
      } else if (batch.length === 1) {
        // A deadlock is possible only through idempotency keys (two requests with one key,
        // each holding what the other's batch waits for); nothing committed: try again.
        if (RETRYABLE.has((error as { code?: string }).code ?? "") && attempt < 3) return this.#send(batch, attempt + 1);
        batch[0]!.reject(error);
      } else {
        // Nothing of the batch committed: each append again in a call of its own.
        await Promise.all(batch.map((pending) => this.#send([pending])));
      }
      return;
    }
    let appended = false;
    for (const row of rows) {
      const pending = batch[row.item - 1]!;
      const { streamId, options } = pending;
      if (row.stale_streams) pending.reject(new StaleGuardError(streamId, row.stale_streams));
      else if (row.duplicate_key) pending.reject(new DuplicateIdempotencyKeyError(options.idempotency?.key ?? ""));
      else if (!row.ok) pending.reject(new WrongExpectedVersionError(streamId, String(options.expectedVersion), Number(row.version)));
      else {
        appended = true;
        pending.resolve({ version: Number(row.version), position: { commit: BigInt(row.tx!), prepare: BigInt(row.last_position!) } });
      }
    }
    if (rows.length !== batch.length) {
      const missing = new Error(`append_events_batch answered ${rows.length} of ${batch.length} appends`);
      const answered = new Set(rows.map((row) => row.item - 1));
      batch.forEach((pending, index) => answered.has(index) || pending.reject(missing));
    }
    if (appended) this.#onAppended();
  }
}

/** The 16 parallel arrays of append_events_batch for a batch. */
function parameters(batch: readonly PendingAppend[]): unknown[] {
  const streams: string[] = [];
  const modes: string[] = [];
  const expected: number[] = [];
  const counts: number[] = [];
  const eventIds: string[] = [];
  const types: string[] = [];
  const data: Buffer[] = [];
  const metadata: Buffer[] = [];
  const idemKeys: (string | null)[] = [];
  const idemScopes: (string | null)[] = [];
  const idemHashes: (string | null)[] = [];
  const idemStatuses: (number | null)[] = [];
  const idemResources: (string | null)[] = [];
  const guardCounts: number[] = [];
  const guardStreams: string[] = [];
  const guardVersions: number[] = [];
  for (const { streamId, events, options } of batch) {
    const expectedVersion = options.expectedVersion;
    streams.push(streamId);
    modes.push(typeof expectedVersion === "number" ? "exact" : expectedVersion);
    expected.push(typeof expectedVersion === "number" ? expectedVersion : 0);
    counts.push(events.length);
    for (const event of events) {
      eventIds.push(crypto.randomUUID());
      types.push(event.type);
      data.push(encodePayload(event.data));
      metadata.push(encodePayload(event.metadata));
    }
    const idem = options.idempotency;
    idemKeys.push(idem?.key ?? null);
    idemScopes.push(idem?.scope ?? null);
    idemHashes.push(idem?.requestHash ?? null);
    idemStatuses.push(idem?.status ?? null);
    idemResources.push(idem?.resourceId ?? null);
    const guard = options.guard ?? [];
    guardCounts.push(guard.length);
    for (const g of guard) {
      guardStreams.push(g.streamId);
      guardVersions.push(g.version);
    }
  }
  return [streams, modes, expected, counts, eventIds, types, data, metadata, idemKeys, idemScopes, idemHashes, idemStatuses, idemResources, guardCounts, guardStreams, guardVersions];
}
