/**
 * A decoder for the msgpack that encodePayload writes (maps with string keys, arrays,
 * strings, integers, doubles, booleans, nil), for reads of many events at once (bulk builds
 * decode every event of the log). It answers exactly what msgpackr's unpack answers
 * (`mapsAsObjects`), with two differences in how, not what:
 *
 * - Strings of at most STRING_CACHE_MAX_BYTES ASCII bytes come from a cache of recent
 *   strings, checked byte for byte: the keys of every map, and the values an event log
 *   repeats (product ids, skus, names, currencies, statuses) are not made again for every
 *   event, and the rows a build keeps share one copy of each. msgpackr makes its keys again
 *   whenever its native string extraction ran for the payload (almost every payload).
 * - Anything outside that subset (extensions, binary, float32, 64-bit integers, non-string
 *   keys) is not decoded here: `read` answers NOT_HANDLED and the caller uses msgpackr.
 */

/** Strings longer than this (in bytes) are decoded without the cache. */
export const STRING_CACHE_MAX_BYTES = 48;
const CACHE_SLOTS = 1 << 14;

/** What read() answers for a payload it does not decode (the caller decodes it with msgpackr). */
export const NOT_HANDLED: unique symbol = Symbol("not handled");

/** Buffer's own slice decoders (what toString(encoding, start, end) calls after checking its arguments). */
interface SliceDecoders {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

class Unsupported extends Error {}
const UNSUPPORTED = new Unsupported();

export class PayloadReader {
  readonly #cache: (string | undefined)[] = new Array(CACHE_SLOTS);
  /** Each slot's full hash: a string of another hash is told apart without reading it (a cache miss in memory). */
  readonly #hashes = new Int32Array(CACHE_SLOTS);
  #bytes: Uint8Array = new Uint8Array(0);
  #view: DataView = new DataView(new ArrayBuffer(0));
  #buffer: Buffer & SliceDecoders = Buffer.alloc(0) as Buffer & SliceDecoders;
  #at = 0;
  #end = 0;

  /** The value encoded at bytes[start, end), or NOT_HANDLED. Throws on truncated or trailing bytes, as msgpackr does. */
  read(bytes: Uint8Array, start: number, end: number): unknown {
    this.#use(bytes);
    if (end > bytes.length || start >= end) return NOT_HANDLED;
    this.#at = start;
    this.#end = end;
    try {
      const value = this.#value();
      // Trailing bytes: msgpackr reads the first value only; let it say what it does with the rest.
      return this.#at === end ? value : NOT_HANDLED;
    } catch (error) {
      if (error === UNSUPPORTED || error instanceof RangeError) return NOT_HANDLED;
      throw error;
    }
  }

  /**
   * The value under `key` of the map encoded at bytes[start, end), without decoding the
   * other entries (they are stepped over): undefined when the map has no such key, NOT_HANDLED
   * when the payload is not a map this reader decodes (the caller decodes it whole). Strings
   * it answers are not cached: a field read this way (an event's time) is seldom repeated.
   */
  field(bytes: Uint8Array, start: number, end: number, key: string): unknown {
    this.#use(bytes);
    if (end > bytes.length || start >= end) return NOT_HANDLED;
    this.#at = start;
    this.#end = end;
    try {
      const token = this.#bytes[this.#at++]!;
      let length: number;
      if (token >= 0x80 && token < 0x90) length = token & 0x0f;
      else if (token === 0xde) length = this.#uint16();
      else if (token === 0xdf) length = this.#uint32();
      else return NOT_HANDLED;
      if (length > (end - this.#at) / 2) return NOT_HANDLED;
      let found: unknown = undefined;
      for (let i = 0; i < length; i++) {
        // As msgpackr: the last of repeated keys wins.
        if (this.#key() === key) found = this.#fieldValue();
        else this.#skip();
      }
      return this.#at === end ? found : NOT_HANDLED;
    } catch (error) {
      if (error === UNSUPPORTED || error instanceof RangeError) return NOT_HANDLED;
      throw error;
    }
  }

  #use(bytes: Uint8Array): void {
    if (bytes === this.#bytes) return;
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#buffer = (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) as Buffer & SliceDecoders;
  }

  #uint16(): number {
    this.#need(2);
    this.#at += 2;
    return this.#view.getUint16(this.#at - 2);
  }

  #uint32(): number {
    this.#need(4);
    this.#at += 4;
    return this.#view.getUint32(this.#at - 4);
  }

  /** A value field() answers: a string is sliced without the cache, anything else as #value decodes it. */
  #fieldValue(): unknown {
    this.#need(1);
    const token = this.#bytes[this.#at]!;
    let length: number;
    if (token >= 0xa0 && token < 0xc0) {
      this.#at++;
      length = token & 0x1f;
    } else if (token === 0xd9) {
      this.#at++;
      this.#need(1);
      length = this.#bytes[this.#at++]!;
    } else return this.#value();
    this.#need(length);
    const start = this.#at;
    this.#at += length;
    return this.#buffer.utf8Slice(start, this.#at);
  }

  /** A map key as msgpackr names it (`__proto__` becomes `__proto_`: no prototype is ever set from data), or UNSUPPORTED. */
  #key(): string {
    const key = this.#string(this.#keyLength());
    return key === "__proto__" ? "__proto_" : key;
  }

  /** Reads a map key's header (a string of at most 255 bytes, as msgpackr writes keys) and answers its length; UNSUPPORTED for anything else. */
  #keyLength(): number {
    this.#need(1);
    const token = this.#bytes[this.#at++]!;
    if (token >= 0xa0 && token < 0xc0) return token & 0x1f;
    if (token !== 0xd9) throw UNSUPPORTED;
    this.#need(1);
    return this.#bytes[this.#at++]!;
  }

  /** Steps over one value of the subset this reader decodes (UNSUPPORTED for anything else, as #value). */
  #skip(): void {
    this.#need(1);
    const token = this.#bytes[this.#at++]!;
    if (token < 0x80 || token >= 0xe0) return;
    if (token < 0x90) return this.#skipEntries(token & 0x0f, true);
    if (token < 0xa0) return this.#skipEntries(token & 0x0f, false);
    if (token < 0xc0) return this.#advance(token & 0x1f);
    switch (token) {
      case 0xc0: case 0xc2: case 0xc3: return;
      case 0xcb: return this.#advance(8);
      case 0xcc: case 0xd0: return this.#advance(1);
      case 0xcd: case 0xd1: return this.#advance(2);
      case 0xce: case 0xd2: return this.#advance(4);
      case 0xd9: this.#need(1); return this.#advance(this.#bytes[this.#at++]!);
      case 0xda: return this.#advance(this.#uint16());
      case 0xdb: return this.#advance(this.#uint32());
      case 0xdc: return this.#skipEntries(this.#uint16(), false);
      case 0xdd: return this.#skipEntries(this.#uint32(), false);
      case 0xde: return this.#skipEntries(this.#uint16(), true);
      case 0xdf: return this.#skipEntries(this.#uint32(), true);
      default: throw UNSUPPORTED;
    }
  }

  /** Steps over `count` array items, or map entries (each key a string, as #map wants). */
  #skipEntries(count: number, map: boolean): void {
    if (count > this.#end - this.#at) throw UNSUPPORTED;
    for (let i = 0; i < count; i++) {
      if (map) this.#advance(this.#keyLength());
      this.#skip();
    }
  }

  #advance(count: number): void {
    this.#need(count);
    this.#at += count;
  }

  #need(count: number): void {
    if (this.#at + count > this.#end) throw UNSUPPORTED;
  }

  #value(): unknown {
    this.#need(1);
    const token = this.#bytes[this.#at++]!;
    if (token < 0x80) return token;
    if (token < 0x90) return this.#map(token & 0x0f);
    if (token < 0xa0) return this.#array(token & 0x0f);
    if (token < 0xc0) return this.#string(token & 0x1f);
    if (token >= 0xe0) return token - 0x100;
    const view = this.#view;
    const at = this.#at;
    switch (token) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xcb: this.#need(8); this.#at += 8; return view.getFloat64(at);
      case 0xcc: this.#need(1); this.#at += 1; return view.getUint8(at);
      case 0xcd: this.#need(2); this.#at += 2; return view.getUint16(at);
      case 0xce: this.#need(4); this.#at += 4; return view.getUint32(at);
      case 0xd0: this.#need(1); this.#at += 1; return view.getInt8(at);
      case 0xd1: this.#need(2); this.#at += 2; return view.getInt16(at);
      case 0xd2: this.#need(4); this.#at += 4; return view.getInt32(at);
      case 0xd9: this.#need(1); this.#at += 1; return this.#string(view.getUint8(at));
      case 0xda: this.#need(2); this.#at += 2; return this.#string(view.getUint16(at));
      case 0xdb: this.#need(4); this.#at += 4; return this.#string(view.getUint32(at));
      case 0xdc: this.#need(2); this.#at += 2; return this.#array(view.getUint16(at));
      case 0xdd: this.#need(4); this.#at += 4; return this.#array(view.getUint32(at));
      case 0xde: this.#need(2); this.#at += 2; return this.#map(view.getUint16(at));
      case 0xdf: this.#need(4); this.#at += 4; return this.#map(view.getUint32(at));
      default: throw UNSUPPORTED;
    }
  }

  #map(length: number): Record<string, unknown> {
    // Each entry takes at least two bytes.
    if (length > (this.#end - this.#at) / 2) throw UNSUPPORTED;
    const object: Record<string, unknown> = {};
    for (let i = 0; i < length; i++) object[this.#key()] = this.#value();
    return object;
  }

  #array(length: number): unknown[] {
    if (length > this.#end - this.#at) throw UNSUPPORTED;
    const array: unknown[] = new Array(length);
    for (let i = 0; i < length; i++) array[i] = this.#value();
    return array;
  }

  #string(length: number): string {
    this.#need(length);
    const bytes = this.#bytes;
    const start = this.#at;
    const end = start + length;
    this.#at = end;
    if (length === 0) return "";
    if (length > STRING_CACHE_MAX_BYTES) return this.#buffer.utf8Slice(start, end);
    // A slot from the length and a few bytes; the string there is used only if every byte matches.
    let hash = Math.imul(length, 0x9e3779b1);
    hash = Math.imul(hash ^ bytes[start]!, 0x01000193);
    hash = Math.imul(hash ^ bytes[end - 1]!, 0x01000193);
    hash = Math.imul(hash ^ bytes[start + (length >> 1)]!, 0x01000193);
    hash = Math.imul(hash ^ bytes[start + (length >> 2)]!, 0x01000193);
    hash = Math.imul(hash ^ bytes[end - 1 - (length >> 2)]!, 0x01000193);
    hash ^= hash >>> 15;
    const slot = hash & (CACHE_SLOTS - 1);
    if (this.#hashes[slot] === hash) {
      const cached = this.#cache[slot];
      if (cached !== undefined && cached.length === length) {
        let i = 0;
        while (i < length && cached.charCodeAt(i) === bytes[start + i]) i++;
        if (i === length) return cached;
      }
    }
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (bytes[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (!ascii) return this.#buffer.utf8Slice(start, end);
    const string = this.#buffer.latin1Slice(start, end);
    this.#cache[slot] = string;
    this.#hashes[slot] = hash;
    return string;
  }
}
