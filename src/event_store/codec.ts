/**
 * msgpack encoding of event payloads and metadata for the PostgreSQL store: plain maps
 * (no msgpackr record extension), so any msgpack reader can decode them.
 */
import { Packr } from "msgpackr";
import type { EventMetadata } from "./types.ts";

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

/** Encodes an event's data or metadata. */
export function encodePayload(value: Record<string, unknown> | EventMetadata): Buffer {
  return packr.pack(value);
}

/** Decodes what encodePayload wrote. */
export function decodePayload<T = Record<string, unknown>>(bytes: Uint8Array): T {
  return packr.unpack(bytes) as T;
}

/**
 * The stored msgpack bytes of a decoded event's data and metadata, kept beside the event
 * so it can be forwarded (to a worker thread) without packing it again.
 */
const rawPayloads = new WeakMap<object, { data: Uint8Array; metadata: Uint8Array }>();

/** Remembers the stored bytes an event was decoded from. */
export function rememberRawPayload(event: object, raw: { data: Uint8Array; metadata: Uint8Array }): void {
  rawPayloads.set(event, raw);
}

/** The stored bytes an event was decoded from, when the store kept them. */
export function rawPayloadOf(event: object): { data: Uint8Array; metadata: Uint8Array } | undefined {
  return rawPayloads.get(event);
}
