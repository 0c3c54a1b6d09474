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
