/**
 * Reads a settled range of the PostgreSQL event log for a bulk build: one streaming
 * `COPY (SELECT …) TO STDOUT (FORMAT binary)` walking events_global_order, cut into chunks
 * of decoded events. Only the events of the given types carry (and pay for decoding) their
 * payloads; every event of the range is counted and moves the chunk's position.
 *
 * The range must end at or below a head read from the store (the newest event below the
 * oldest open transaction): everything up to it is committed for good, so the range read
 * here is exactly what a reader by position would see.
 */
import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { decodeFieldAt, decodePayloadAt } from "../../event_store/codec.ts";
import type { EventMetadata, RecordedEvent } from "../../event_store/types.ts";
import type { Position } from "../../shared/position.ts";
import { CopyBinaryReader, uuidText, type Tuple } from "./copy_binary.ts";

export interface LogChunk {
  /** The chunk's events of the asked types, in log order, decoded. */
  events: RecordedEvent[];
  /** Events of the log the chunk covers, of any type. */
  read: number;
  /** Position of the chunk's last event (of any type). */
  through: Position;
}

export interface LogRange {
  /** Read events after this position... */
  after: Position;
  /** ...up to and including this one (a head read from the store). */
  through: Position;
  /** Event types whose payloads are read and decoded. */
  types: ReadonlySet<string>;
  /** Events (of any type) per chunk. */
  chunkEvents: number;
}

/** An xid8 or bigint literal of a position part (checked: only digits reach the SQL). */
function u64(value: bigint): string {
  if (value < 0n) throw new Error(`negative position part ${value}`);
  return value.toString();
}

/** The COPY statement for a range (positions and types inlined: COPY takes no parameters). */
function logCopySql(client: pg.ClientBase, range: Pick<LogRange, "after" | "through" | "types">): string {
  const types = client.escapeLiteral(`{${[...range.types].map((type) => `"${type.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`).join(",")}}`);
  const handled = `type = ANY(${types}::text[])`;
  return `COPY (SELECT transaction_id, global_position, event_id, stream_id, stream_version, type,
                      CASE WHEN ${handled} THEN data END, CASE WHEN ${handled} THEN metadata END
                 FROM events
                WHERE (transaction_id, global_position) > ('${u64(range.after.commit)}'::xid8, ${u64(range.after.prepare)})
                  AND (transaction_id, global_position) <= ('${u64(range.through.commit)}'::xid8, ${u64(range.through.prepare)})
                ORDER BY transaction_id, global_position) TO STDOUT (FORMAT binary)`;
}

/**
 * An event's metadata as a bulk read gives it: `occurredAt` (the one field projections read)
 * decoded at once, the rest when first asked for. Correlation ids are unique per command:
 * decoding them for every event of a 1M-event log cost ~0.8 s of the build thread's CPU
 * and a string each. Its fields are getters: a spread copy has only `occurredAt`; JSON has all.
 */
class LogMetadata implements EventMetadata {
  readonly occurredAt: string;
  readonly #bytes: Buffer;
  readonly #start: number;
  readonly #end: number;
  #all: EventMetadata | undefined;

  constructor(bytes: Buffer, start: number, end: number) {
    this.occurredAt = decodeFieldAt(bytes, start, end, "occurredAt") as string;
    this.#bytes = bytes;
    this.#start = start;
    this.#end = end;
  }

  #decoded(): EventMetadata {
    return (this.#all ??= decodePayloadAt<EventMetadata>(this.#bytes, this.#start, this.#end));
  }

  get correlationId(): string {
    return this.#decoded().correlationId;
  }

  get causationId(): string | null {
    return this.#decoded().causationId;
  }

  /** (Typed as present: absent reads undefined, as on a plain object without it.) */
  get idempotencyKey(): string {
    return this.#decoded().idempotencyKey as string;
  }

  toJSON(): EventMetadata {
    return this.#decoded();
  }
}

/**
 * An event of a bulk read: its type, stream version, position, data and metadata's time
 * decoded at once (what projections read), its id and stream id when first asked for (two
 * strings per event that a build never reads: ~0.5 s of CPU over 1M events). The bytes they
 * come from are a COPY chunk's, never written again; an event keeps its chunk alive, and
 * events live for the chunk's fold.
 */
class LogEvent implements RecordedEvent {
  readonly type: string;
  readonly streamVersion: number;
  readonly data: Record<string, unknown>;
  readonly metadata: EventMetadata;
  readonly position: Position;
  readonly #bytes: Buffer;
  readonly #idAt: number;
  readonly #streamAt: number;
  readonly #streamEnd: number;
  #eventId: string | undefined;
  #streamId: string | undefined;

  constructor(tuple: Tuple, type: string) {
    const bytes = tuple.bytes;
    const data = tuple.start(6);
    const metadata = tuple.start(7);
    this.type = type;
    this.streamVersion = tuple.int8(4);
    this.data = decodePayloadAt(bytes, data, data + tuple.length(6));
    this.metadata = new LogMetadata(bytes, metadata, metadata + tuple.length(7));
    this.position = { commit: tuple.u64(0), prepare: tuple.u64(1) };
    this.#bytes = bytes;
    this.#idAt = tuple.start(2);
    this.#streamAt = tuple.start(3);
    this.#streamEnd = this.#streamAt + tuple.length(3);
  }

  get eventId(): string {
    return (this.#eventId ??= uuidText(this.#bytes, this.#idAt));
  }

  get streamId(): string {
    return (this.#streamId ??= this.#bytes.toString("utf8", this.#streamAt, this.#streamEnd));
  }

  toJSON(): RecordedEvent {
    const { eventId, streamId, streamVersion, type, data, metadata, position } = this;
    return { eventId, streamId, streamVersion, type, data, metadata, position };
  }
}

/**
 * Streams the range in chunks. The COPY is read only as fast as chunks are taken (the
 * stream pauses while the consumer works), so memory stays at about one chunk. The client
 * is left in an unknown state when the loop ends early: end it rather than reuse it.
 * The session should walk the index (LOG_READ_SETTINGS), as every log read does.
 */
export async function* readLogRange(client: pg.ClientBase, range: LogRange): AsyncGenerator<LogChunk> {
  const { chunkEvents } = range;
  let events: RecordedEvent[] = [];
  let read = 0;
  // The position fields' bytes of the last event read (of any type), decoded only when a chunk ends there.
  const lastPosition = Buffer.alloc(16);
  const reader = new CopyBinaryReader((tuple) => {
    const type = tuple.text(5);
    read++;
    tuple.bytes.copy(lastPosition, 0, tuple.start(0), tuple.start(0) + 8);
    tuple.bytes.copy(lastPosition, 8, tuple.start(1), tuple.start(1) + 8);
    if (range.types.has(type) && tuple.length(6) >= 0) events.push(new LogEvent(tuple, type));
  });
  const last = (): Position => ({ commit: lastPosition.readBigUInt64BE(0), prepare: lastPosition.readBigUInt64BE(8) });
  const stream = client.query(copyTo(logCopySql(client, range)));
  try {
    for await (const chunk of stream) {
      reader.push(chunk as Buffer);
      if (read >= chunkEvents) {
        yield { events, read, through: last() };
        events = [];
        read = 0;
      }
    }
    if (!reader.ended) throw new Error("log COPY ended without its trailer");
    if (read > 0) yield { events, read, through: last() };
  } finally {
    if (!stream.destroyed) stream.destroy();
  }
}
