/**
 * The EventStoreDB event store, behind the same interface as the PostgreSQL store.
 * Versions are event counts (revision + 1); positions are EventStoreDB's own (commit,
 * prepare) pair; payloads are JSON (see eventstoredb_codec.ts for how that differs from
 * the msgpack payloads of the PostgreSQL store); idempotency keys live in PostgreSQL
 * (see eventstoredb_idempotency.ts for the guarantee); append guards are read just before
 * the append, not atomically (see eventstoredb_guard.ts). Reconnecting is the client's job.
 */
import { EventStoreDBClient, StreamNotFoundError } from "@eventstore/db-client";
import type { AppendExpectedRevision, EventData } from "@eventstore/db-client";
import type { Pool } from "../db/pool.ts";
import { StoreUnavailableError, WrongExpectedVersionError } from "../shared/errors.ts";
import type { Position } from "../shared/position.ts";
import { fromEsdbPosition, fromResolvedEvent, idempotentEventId, toEventData, toExpectedRevision } from "./eventstoredb_codec.ts";
import { mapEventStoreDbError } from "./eventstoredb_errors.ts";
import { checkGuard } from "./eventstoredb_guard.ts";
import { claimIdempotencyKey, completeIdempotencyKey, releaseIdempotencyKey } from "./eventstoredb_idempotency.ts";
import { pingEventStoreDb } from "./eventstoredb_ping.ts";
import { readAllAfter, readHeadPosition } from "./eventstoredb_read_all.ts";
import { subscribeAllBatches } from "./eventstoredb_subscription.ts";
import type { AppendOptions, AppendResult, EventStore, ExpectedVersion, NewEvent, RecordedEvent, StreamRead, SubscribeOptions } from "./types.ts";

export interface EventStoreDbStoreOptions {
  /** `esdb://host:2113?tls=false`, `esdb+discover://user:pass@cluster.dns:2113`, ... */
  connectionString: string;
  /** PostgreSQL with the `idempotency_keys` table; required for appends with `idempotency`. */
  pool?: Pool;
  /** How long ping() waits for an answer (default 3000 ms). */
  pingTimeoutMs?: number;
  /** Attempts of an idempotent append on a connection failure, same event ids each time (default 3). */
  idempotentAppendAttempts?: number;
  /** Told about errors that are handled but worth logging (a key whose outcome could not be recorded). */
  onError?: (error: Error) => void;
}

const READ_CONCURRENCY = 16;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Creates the EventStoreDB store; connects lazily (call ping() to fail fast on a bad address). */
export function createEventStoreDbStore(options: EventStoreDbStoreOptions): EventStore {
  return new EventStoreDbStore(options);
}

/** Creates the store and pings it; rejects with one clear line when the server does not answer. */
export async function connectEventStoreDbStore(options: EventStoreDbStoreOptions): Promise<EventStore> {
  const store = createEventStoreDbStore(options);
  try {
    await store.ping();
    return store;
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
}

class EventStoreDbStore implements EventStore {
  readonly kind = "eventstoredb" as const;
  #client: EventStoreDBClient;
  #target: string;
  #pool: Pool | undefined;
  #pingTimeoutMs: number;
  #attempts: number;
  #onError: (error: Error) => void;

  constructor(options: EventStoreDbStoreOptions) {
    this.#client = EventStoreDBClient.connectionString(options.connectionString);
    this.#target = options.connectionString.replace(/\/\/[^@/]*@/, "//").replace(/\?.*$/, "");
    this.#pool = options.pool;
    this.#pingTimeoutMs = options.pingTimeoutMs ?? 3000;
    this.#attempts = Math.max(1, options.idempotentAppendAttempts ?? 3);
    this.#onError = options.onError ?? (() => undefined);
  }

  async append(streamId: string, events: NewEvent[], options: AppendOptions): Promise<AppendResult> {
    if (events.length === 0) throw new Error("append needs at least one event");
    const expected = options.expectedVersion;
    const revision = toExpectedRevision(expected);
    const idem = options.idempotency;
    // Checked first (before an idempotency key is claimed); not atomic with the append, see eventstoredb_guard.ts.
    if (options.guard !== undefined && options.guard.length > 0) await checkGuard(this.#client, streamId, options.guard);
    if (idem === undefined) {
      const data = events.map((event) => toEventData(event, { id: crypto.randomUUID() }));
      return this.#appendOnce(streamId, data, revision, expected);
    }
    const pool = this.#pool;
    if (pool === undefined) throw new Error("The EventStoreDB store needs a PostgreSQL pool (options.pool) for idempotent appends");
    await claimIdempotencyKey(pool, idem, streamId);
    const data = events.map((event, index) => toEventData(event, { id: idempotentEventId(idem, streamId, index) }));
    let result: AppendResult;
    try {
      result = await this.#appendRetrying(streamId, data, revision, expected);
    } catch (error) {
      await releaseIdempotencyKey(pool, idem.key).catch((cause: unknown) => this.#onError(new Error(`Could not release idempotency key ${idem.key}`, { cause })));
      throw error;
    }
    // The events are written; a failure to record the outcome keeps the claim (it still blocks duplicates).
    await completeIdempotencyKey(pool, idem.key, result).catch((cause: unknown) =>
      this.#onError(new Error(`Appended, but could not record the outcome of idempotency key ${idem.key}`, { cause })),
    );
    return result;
  }

  async #appendOnce(streamId: string, data: EventData[], revision: AppendExpectedRevision, expected: ExpectedVersion): Promise<AppendResult> {
    try {
      const result = await this.#client.appendToStream(streamId, data, { expectedRevision: revision });
      const version = Number(result.nextExpectedRevision + 1n);
      if (!result.success) throw new WrongExpectedVersionError(streamId, String(expected), version);
      if (result.position === undefined) throw new Error("EventStoreDB returned no position for an append (server older than 20.6?)");
      return { version, position: fromEsdbPosition(result.position) };
    } catch (error) {
      throw mapEventStoreDbError(error, { streamId, expected });
    }
  }

  /** Re-sends the same events (same ids, same expected revision) after a connection failure; EventStoreDB deduplicates. */
  async #appendRetrying(streamId: string, data: EventData[], revision: AppendExpectedRevision, expected: ExpectedVersion): Promise<AppendResult> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#appendOnce(streamId, data, revision, expected);
      } catch (error) {
        if (attempt >= this.#attempts || !(error instanceof StoreUnavailableError)) throw error;
        await delay(100 * 4 ** (attempt - 1));
      }
    }
  }

  async readStream(streamId: string): Promise<StreamRead> {
    const events: RecordedEvent[] = [];
    try {
      for await (const resolved of this.#client.readStream(streamId)) {
        if (resolved.event !== undefined) events.push(fromResolvedEvent(resolved));
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return { version: 0, events: [] };
      throw mapEventStoreDbError(error, { streamId });
    }
    return { version: events.at(-1)?.streamVersion ?? 0, events };
  }

  async readStreams(streamIds: readonly string[]): Promise<Map<string, StreamRead>> {
    const unique = [...new Set(streamIds)];
    const reads = new Map<string, StreamRead>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < unique.length) {
        const streamId = unique[next++]!;
        reads.set(streamId, await this.readStream(streamId));
      }
    };
    await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, unique.length) }, worker));
    return new Map(unique.map((id) => [id, reads.get(id)!]));
  }

  async readAll(after: Position | null, limit: number): Promise<RecordedEvent[]> {
    return readAllAfter(this.#client, after, limit);
  }

  async headPosition(): Promise<Position | null> {
    return readHeadPosition(this.#client);
  }

  subscribeAll(options: SubscribeOptions): AsyncIterable<RecordedEvent[]> {
    return subscribeAllBatches(this.#client, options);
  }

  async ping(): Promise<void> {
    await pingEventStoreDb(this.#client, { target: this.#target, timeoutMs: this.#pingTimeoutMs });
  }

  async close(): Promise<void> {
    await this.#client.dispose();
  }
}
