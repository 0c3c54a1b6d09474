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
import { decodePayload } from "../../event_store/codec.ts";
import type { EventMetadata, RecordedEvent } from "../../event_store/types.ts";
import type { Position } from "../../shared/position.ts";
import { CopyBinaryReader, fieldInt8, fieldU64, fieldUuid, type Fields } from "./copy_binary.ts";

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

function toEvent(fields: Fields, type: string): RecordedEvent {
  return {
    eventId: fieldUuid(fields[2]!),
    streamId: fields[3]!.toString("utf8"),
    streamVersion: fieldInt8(fields[4]!),
    type,
    data: decodePayload(fields[6]!),
    metadata: decodePayload<EventMetadata>(fields[7]!),
    position: { commit: fieldU64(fields[0]!), prepare: fieldU64(fields[1]!) },
  };
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
  let through: Position | null = null;
  const reader = new CopyBinaryReader((fields) => {
    const type = fields[5]!.toString("utf8");
    read++;
    if (range.types.has(type) && fields[6] !== null) {
      const event = toEvent(fields, type);
      events.push(event);
      through = event.position;
    } else through = { commit: fieldU64(fields[0]!), prepare: fieldU64(fields[1]!) };
  });
  const stream = client.query(copyTo(logCopySql(client, range)));
  try {
    for await (const chunk of stream) {
      reader.push(chunk as Buffer);
      if (read >= chunkEvents && through !== null) {
        yield { events, read, through };
        events = [];
        read = 0;
      }
    }
    if (!reader.ended) throw new Error("log COPY ended without its trailer");
    if (read > 0 && through !== null) yield { events, read, through };
  } finally {
    if (!stream.destroyed) stream.destroy();
  }
}
