/**
 * The event store interface, implemented by the PostgreSQL store (postgres.ts) and the
 * EventStoreDB store (eventstoredb.ts). One contract test suite runs against both.
 */
import type { Position } from "../shared/position.ts";

/** `no_stream`: the stream must not exist. `any`: no check. A number: the stream's exact event count. */
export type ExpectedVersion = "no_stream" | "any" | number;

/** Metadata stored with every event. */
export interface EventMetadata {
  /** ISO 8601 UTC with milliseconds; the business time of the event. */
  occurredAt: string;
  correlationId: string;
  causationId: string | null;
  idempotencyKey?: string;
}

/** An event to append. */
export interface NewEvent {
  type: string;
  data: Record<string, unknown>;
  metadata: EventMetadata;
}

/** An event as stored. */
export interface RecordedEvent {
  /** Unique id of the event (UUID). */
  eventId: string;
  streamId: string;
  /** The stream's event count including this event (1 for the first event). */
  streamVersion: number;
  type: string;
  data: Record<string, unknown>;
  metadata: EventMetadata;
  /** Global position; strictly increasing in read-all order. */
  position: Position;
}

/** Recorded atomically with an append (PostgreSQL) so a retried request appends nothing. */
export interface IdempotencyRecord {
  key: string;
  /** Route template and method, e.g. `POST /v1/orders/:id/pay`. */
  scope: string;
  /** Hash of the canonical request (route params + body). */
  requestHash: string;
  /** The HTTP status the first request answered (201 or 200). */
  status: number;
  /** The id of the aggregate the command addressed (the response's `id`). */
  resourceId: string;
}

/** Another stream's version that an append depends on (0: the stream must not exist). */
export interface StreamGuard {
  streamId: string;
  version: number;
}

export interface AppendOptions {
  expectedVersion: ExpectedVersion;
  /** When set, the key is recorded with the append; a key already recorded throws DuplicateIdempotencyKeyError and appends nothing. */
  idempotency?: IdempotencyRecord;
  /**
   * Append only if each of these streams is still at exactly this version; otherwise throw
   * StaleGuardError (checked before the expected version) and append nothing. PostgreSQL
   * checks it in the append's own statement; EventStoreDB reads the versions just before
   * appending, which is not atomic there.
   */
  guard?: readonly StreamGuard[];
}

export interface AppendResult {
  /** The stream's event count after the append. */
  version: number;
  /** Position of the last appended event. */
  position: Position;
}

export interface StreamRead {
  /** The stream's event count (0 when the stream does not exist). */
  version: number;
  events: RecordedEvent[];
}

export interface SubscribeOptions {
  /** Deliver events strictly after this position; null: from the beginning. */
  after: Position | null;
  /** Upper bound of events per delivered batch. */
  batchSize: number;
  signal: AbortSignal;
}

/** The store of record for events. */
export interface EventStore {
  readonly kind: "postgres" | "eventstoredb";
  /**
   * Appends events atomically to one stream if its version matches.
   * Throws WrongExpectedVersionError on a mismatch (nothing appended), StaleGuardError
   * when a guard stream moved (nothing appended), StoreUnavailableError when the store
   * cannot be reached.
   */
  append(streamId: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult>;
  /** Reads a whole stream in order; a missing stream reads as version 0 with no events. */
  readStream(streamId: string): Promise<StreamRead>;
  /** Reads several streams at once (missing ones read as empty). */
  readStreams(streamIds: readonly string[]): Promise<Map<string, StreamRead>>;
  /**
   * Reads up to `limit` events strictly after `after`, in global order. Never skips an
   * event: an event committed late by a slow transaction is returned by a later call.
   */
  readAll(after: Position | null, limit: number): Promise<RecordedEvent[]>;
  /** The position of the last event a reader can currently see, or null when empty. */
  headPosition(): Promise<Position | null>;
  /**
   * Catches up from `after` in batches, then follows live appends (woken by the store's
   * notifications, not by a poll interval). Ends when the signal aborts. Backpressure:
   * the next batch is read only after the consumer asks for it.
   */
  subscribeAll(options: SubscribeOptions): AsyncIterable<RecordedEvent[]>;
  /** Resolves when the store answers a trivial request; rejects otherwise. */
  ping(): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
}
