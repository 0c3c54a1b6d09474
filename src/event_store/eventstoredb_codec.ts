/**
 * How our events look in EventStoreDB: JSON events (`application/json` data and metadata),
 * so other EventStoreDB tools (the web UI, projections, other clients) can read them.
 *
 * This differs from the PostgreSQL store, which keeps data and metadata as msgpack bytes
 * (codec.ts): here both are JSON, so a value survives only if it survives JSON (no bigint,
 * no Date, no undefined, no binary). Metadata holds occurredAt, correlationId, causationId
 * and idempotencyKey, plus `$correlationId`/`$causationId`, the keys EventStoreDB's own
 * projections ($by_correlation_id) read; those `$` keys are dropped again on reading.
 */
import { createHash } from "node:crypto";
import { ANY, NO_STREAM, jsonEvent } from "@eventstore/db-client";
import type { AppendExpectedRevision, EventData, Position as EsdbPosition, ResolvedEvent, AllStreamResolvedEvent } from "@eventstore/db-client";
import type { Position } from "../shared/position.ts";
import type { EventMetadata, ExpectedVersion, IdempotencyRecord, NewEvent, RecordedEvent } from "./types.ts";

/** Namespace of the deterministic (UUID v5) event ids derived from idempotency keys. */
export const IDEMPOTENT_EVENT_NAMESPACE = "8f0d3c9e-5b7a-4f3e-9a51-6c2d1e4b7a90";

/** Computes an RFC 4122 version-5 UUID (SHA-1 of namespace + name). Deterministic. */
export function uuidV5(name: string, namespace: string): string {
  const hash = createHash("sha1").update(Buffer.from(namespace.replaceAll("-", ""), "hex")).update(name, "utf8").digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The id of the index-th event of an idempotent append. The same request (key, request hash,
 * stream) always yields the same ids, so a re-sent append is deduplicated by EventStoreDB;
 * a key reused for a different request (after 24 h) yields different ids.
 */
export function idempotentEventId(record: IdempotencyRecord, streamId: string, index: number): string {
  return uuidV5(`${record.key}\n${record.requestHash}\n${streamId}\n${index}`, IDEMPOTENT_EVENT_NAMESPACE);
}

/** Maps our expected version (an event count) to the client's expected revision (last event number). */
export function toExpectedRevision(expected: ExpectedVersion): AppendExpectedRevision {
  if (expected === "any") return ANY;
  if (expected === "no_stream" || expected === 0) return NO_STREAM;
  if (!Number.isSafeInteger(expected) || expected < 0) throw new RangeError(`Invalid expected version ${expected}`);
  return BigInt(expected - 1);
}

/** Maps the client's revision of a stream's last event (or no_stream) to our version (event count). */
export function toVersion(revision: bigint | "no_stream"): number {
  return revision === "no_stream" ? 0 : Number(revision + 1n);
}

/** Converts a client position to ours; both are two u64 bigints, so nothing is lost. */
export function fromEsdbPosition(position: EsdbPosition): Position {
  return { commit: position.commit, prepare: position.prepare };
}

/** Converts our position to the client's. */
export function toEsdbPosition(position: Position): EsdbPosition {
  return { commit: position.commit, prepare: position.prepare };
}

/** Builds the client's JSON event for one of our events; ids are deterministic when the append is idempotent. */
export function toEventData(event: NewEvent, options: { id: string }): EventData {
  const metadata: Record<string, unknown> = { ...event.metadata, $correlationId: event.metadata.correlationId };
  if (event.metadata.causationId !== null) metadata["$causationId"] = event.metadata.causationId;
  return jsonEvent({ id: options.id, type: event.type, data: event.data, metadata });
}

/** True for EventStoreDB's own events: types or streams starting with `$` (and link events). */
export function isSystemEvent(resolved: ResolvedEvent | AllStreamResolvedEvent): boolean {
  const event = resolved.event;
  if (event === undefined) return true;
  return event.type.startsWith("$") || event.streamId.startsWith("$");
}

function asObject(value: unknown): Record<string, unknown> | null {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
    ? (value as Record<string, unknown>)
    : null;
}

function parseBytes(value: unknown): unknown {
  if (!(value instanceof Uint8Array)) return value;
  try {
    return JSON.parse(Buffer.from(value).toString("utf8"));
  } catch {
    return null;
  }
}

/**
 * Converts a read event to ours. Events written by other tools decode leniently: non-JSON
 * data reads as `{}`, missing metadata falls back to the server's created time and the event id.
 */
export function fromResolvedEvent(resolved: ResolvedEvent | AllStreamResolvedEvent): RecordedEvent {
  const event = resolved.event;
  if (event === undefined) throw new Error("EventStoreDB returned a link without its event");
  const raw = asObject(parseBytes(event.metadata)) ?? {};
  const metadata: EventMetadata = {
    occurredAt: typeof raw["occurredAt"] === "string" ? raw["occurredAt"] : event.created.toISOString(),
    correlationId: typeof raw["correlationId"] === "string" ? raw["correlationId"] : event.id,
    causationId: typeof raw["causationId"] === "string" ? raw["causationId"] : null,
  };
  if (typeof raw["idempotencyKey"] === "string") metadata.idempotencyKey = raw["idempotencyKey"];
  const commit = resolved.commitPosition;
  const position = event.position ?? (commit === undefined ? { commit: 0n, prepare: 0n } : { commit, prepare: commit });
  return {
    eventId: event.id,
    streamId: event.streamId,
    streamVersion: Number(event.revision + 1n),
    type: event.type,
    data: asObject(parseBytes(event.data)) ?? {},
    metadata,
    position: fromEsdbPosition(position),
  };
}
