/**
 * PostgreSQL's binary COPY format, both ways: a streaming reader that cuts the bytes of
 * `COPY … TO STDOUT (FORMAT binary)` into tuples of raw field bytes, and a writer that
 * encodes read-model rows for `COPY … FROM STDIN (FORMAT binary)`. Binary, because a bulk
 * build moves hundreds of megabytes of bytea (events' msgpack, prepared views): the text
 * forms carry bytea as hex, twice the size, for both sides to convert.
 */
import type { CellValue, ColumnType, Row, TableModel } from "../define.ts";

const SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");
/** Signature, flags (int32 0), header extension length (int32 0). */
const HEADER = Buffer.concat([SIGNATURE, Buffer.alloc(8)]);
const TRAILER = Buffer.from([0xff, 0xff]);

/**
 * The tuple the reader is at: where each field lies in `bytes` (length -1: SQL NULL). One
 * object, overwritten tuple after tuple: valid only during the onTuple call. Fields are read
 * in place (no Buffer view per field: a log read passes a million tuples of eight fields).
 */
export class Tuple {
  bytes: Buffer = Buffer.alloc(0);
  count = 0;
  #starts = new Int32Array(16);
  #lengths = new Int32Array(16);

  /** Byte offset of field i in `bytes`. */
  start(i: number): number {
    return this.#starts[i]!;
  }

  /** Byte length of field i, -1 when it is NULL. */
  length(i: number): number {
    return this.#lengths[i]!;
  }

  /** Field i as a view into the stream's bytes (null for NULL). */
  field(i: number): Buffer | null {
    const length = this.#lengths[i]!;
    return length < 0 ? null : this.bytes.subarray(this.#starts[i]!, this.#starts[i]! + length);
  }

  /** Field i (not NULL) as UTF-8 text. */
  text(i: number): string {
    const start = this.#starts[i]!;
    return this.bytes.toString("utf8", start, start + this.#lengths[i]!);
  }

  /** Field i, an unsigned 64-bit big-endian value (xid8, or a non-negative int8), as a bigint. */
  u64(i: number): bigint {
    return this.bytes.readBigUInt64BE(this.#starts[i]!);
  }

  /** Field i, a 64-bit big-endian signed value (int8), as a number (throws past 2^53). */
  int8(i: number): number {
    const value = this.bytes.readBigInt64BE(this.#starts[i]!);
    const number = Number(value);
    if (!Number.isSafeInteger(number)) throw new Error(`int8 ${value} is not a safe integer`);
    return number;
  }

  /** Starts a tuple of `count` fields over `bytes`. */
  reset(bytes: Buffer, count: number): void {
    this.bytes = bytes;
    this.count = count;
    if (count > this.#starts.length) {
      this.#starts = new Int32Array(count);
      this.#lengths = new Int32Array(count);
    }
  }

  set(i: number, start: number, length: number): void {
    this.#starts[i] = start;
    this.#lengths[i] = length;
  }
}

/**
 * Cuts a binary COPY stream into tuples. push() each chunk as it arrives; every complete
 * tuple goes to `onTuple` at once, in order; a tuple split across chunks waits for the rest.
 */
export class CopyBinaryReader {
  #pending: Buffer | null = null;
  #headerRead = false;
  #ended = false;
  readonly #tuple = new Tuple();
  readonly #onTuple: (tuple: Tuple) => void;

  constructor(onTuple: (tuple: Tuple) => void) {
    this.#onTuple = onTuple;
  }

  /** True once the trailer (field count -1) was read. */
  get ended(): boolean {
    return this.#ended;
  }

  push(chunk: Buffer): void {
    const bytes = this.#pending === null ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#pending = null;
    let offset = 0;
    if (!this.#headerRead) {
      if (bytes.length < 19) {
        this.#pending = bytes;
        return;
      }
      if (!bytes.subarray(0, 11).equals(SIGNATURE)) throw new Error("not a binary COPY stream");
      const extension = bytes.readInt32BE(15);
      if (bytes.length < 19 + extension) {
        this.#pending = bytes;
        return;
      }
      offset = 19 + extension;
      this.#headerRead = true;
    }
    const tuple = this.#tuple;
    while (!this.#ended) {
      const start = offset;
      if (bytes.length - offset < 2) break;
      const count = bytes.readInt16BE(offset);
      offset += 2;
      if (count === -1) {
        this.#ended = true;
        break;
      }
      tuple.reset(bytes, count);
      let complete = true;
      for (let i = 0; i < count; i++) {
        if (bytes.length - offset < 4) {
          complete = false;
          break;
        }
        const length = bytes.readInt32BE(offset);
        offset += 4;
        if (length === -1) {
          tuple.set(i, offset, -1);
          continue;
        }
        if (bytes.length - offset < length) {
          complete = false;
          break;
        }
        tuple.set(i, offset, length);
        offset += length;
      }
      if (!complete) {
        offset = start;
        break;
      }
      this.#onTuple(tuple);
    }
    if (offset < bytes.length && !this.#ended) {
      // Copied out: the rest of a large chunk must not keep the whole chunk alive.
      this.#pending = Buffer.from(bytes.subarray(offset));
    }
  }
}

/** The canonical lower-case text of the binary uuid (a field's 16 bytes) at bytes[start]. */
export function uuidText(bytes: Buffer, start: number): string {
  const hex = bytes.toString("hex", start, start + 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Char code -> hex digit value (either case), 255 for anything else. */
const NIBBLE = new Uint8Array(128).fill(255);
for (let i = 0; i < 16; i++) {
  NIBBLE["0123456789abcdef".charCodeAt(i)] = i;
  NIBBLE["0123456789ABCDEF".charCodeAt(i)] = i;
}

/** Writes a uuid's 16 bytes from its 36-character text (hex digits of either case, dashes at 8, 13, 18, 23); false when it is not one (nothing is left meaningful then). */
export function writeUuid(buffer: Buffer, offset: number, text: string): boolean {
  if (text.length !== 36) return false;
  let at = offset;
  for (let i = 0; i < 36; ) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (text.charCodeAt(i) !== 45) return false;
      i++;
      continue;
    }
    const highCode = text.charCodeAt(i);
    const lowCode = text.charCodeAt(i + 1);
    const high = highCode < 128 ? NIBBLE[highCode]! : 255;
    const low = lowCode < 128 ? NIBBLE[lowCode]! : 255;
    if (high === 255 || low === 255) return false;
    buffer[at++] = (high << 4) | low;
    i += 2;
  }
  return true;
}

/** ISO 8601 with a zone (Z or ±hh[:]mm) and up to microseconds: what the projections write (their text form is refused otherwise, as a row the encoder cannot vouch for). */
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}(?::?\d{2})?)$/;
const INTEGER = /^-?\d{1,10}$/;

/** Microseconds since PostgreSQL's epoch of an ISO timestamp with a zone, or null when it is not one (or not a real date). */
export function timestampMicros(text: string): bigint | null {
  const match = TIMESTAMP.exec(text);
  if (!match) return null;
  const [, y, mo, d, h, mi, sec, fraction = "", zone] = match;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec));
  const date = new Date(ms);
  // Out-of-range parts roll over in Date.UTC (Feb 30 -> Mar 1); PostgreSQL refuses them.
  if (date.getUTCDate() !== Number(d) || date.getUTCMonth() !== Number(mo) - 1 || Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) return null;
  let offsetMinutes = 0;
  if (zone !== "Z") {
    const digits = zone!.slice(1).replace(":", "");
    offsetMinutes = (zone!.startsWith("-") ? -1 : 1) * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || 0));
  }
  return BigInt(ms - offsetMinutes * 60_000 - PG_EPOCH_MS) * 1000n + BigInt(fraction.padEnd(6, "0"));
}
/** The number the `count` decimal digits at `at` spell, or -1 when one is not a digit. */
function digitsAt(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * timestampMicros for the form every projection writes, `YYYY-MM-DDTHH:MM:SS.sssZ` (what
 * toISOString gives), read digit by digit with no regex, strings or bigints; null for
 * anything else (timestampMicros then decides), or when the microseconds are not a safe integer.
 */
export function canonicalIsoMicros(text: string): number | null {
  if (text.length !== 24 || text.charCodeAt(23) !== 90 || text.charCodeAt(10) !== 84 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return null;
  if (text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58 || text.charCodeAt(19) !== 46) return null;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  const millis = digitsAt(text, 20, 3);
  if (year < 100 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || millis < 0) return null;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : MONTH_DAYS[month - 1]!)) return null;
  const micros = (Date.UTC(year, month - 1, day, hour, minute, second, millis) - PG_EPOCH_MS) * 1000;
  return Number.isSafeInteger(micros) ? micros : null;
}

/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
const PG_EPOCH_MS = 946_684_800_000;
const DAY_MS = 86_400_000;

/**
 * Encodes rows of one table as a binary COPY stream body, in chunks (header first; end()
 * adds the trailer). Values are the projection's cell forms (see row_io.ts): text/uuid as
 * strings, int/bigint as numbers (or bigint text), timestamptz as ISO text, date as
 * "YYYY-MM-DD", jsonb as JSON text, bytea as Buffer, boolean.
 */
export class CopyBinaryWriter {
  readonly #model: TableModel;
  #buffer: Buffer;
  #offset = 0;
  #rows = 0;

  constructor(model: TableModel, initialBytes = 1 << 16) {
    this.#model = model;
    this.#buffer = Buffer.allocUnsafe(Math.max(initialBytes, 64));
    this.#write(HEADER);
  }

  /** Rows added so far. */
  get rows(): number {
    return this.#rows;
  }

  /** Bytes buffered so far. */
  get bytes(): number {
    return this.#offset;
  }

  /** Adds one row (every column of the model, in order). */
  add(row: Row): void {
    const columns = this.#model.columns;
    this.#reserve(2);
    this.#buffer.writeInt16BE(columns.length, this.#offset);
    this.#offset += 2;
    for (const column of columns) this.#field(column.type, row[column.name], column.name);
    this.#rows++;
  }

  /** Takes what is buffered (for streaming); the writer goes on with an empty buffer. */
  take(): Buffer {
    const out = Buffer.from(this.#buffer.subarray(0, this.#offset));
    this.#offset = 0;
    return out;
  }

  /** The rest of the stream, trailer included. */
  end(): Buffer {
    this.#write(TRAILER);
    return this.take();
  }

  #reserve(bytes: number): void {
    if (this.#offset + bytes <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#offset + bytes));
    this.#buffer.copy(grown, 0, 0, this.#offset);
    this.#buffer = grown;
  }

  #write(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buffer.set(bytes, this.#offset);
    this.#offset += bytes.length;
  }

  #length(length: number): void {
    this.#reserve(4 + Math.max(length, 0));
    this.#buffer.writeInt32BE(length, this.#offset);
    this.#offset += 4;
  }

  #fail(type: ColumnType, value: unknown, name: string): never {
    throw new Error(`column ${this.#model.table}.${name} (${type}): cannot encode ${JSON.stringify(typeof value === "object" ? String(value) : value)}`);
  }

  #field(type: ColumnType, value: CellValue | undefined, name: string): void {
    if (value === null || value === undefined) {
      this.#length(-1);
      return;
    }
    switch (type) {
      case "text": {
        const text = typeof value === "string" ? value : String(value);
        const length = Buffer.byteLength(text, "utf8");
        this.#length(length);
        this.#offset += this.#buffer.write(text, this.#offset, length, "utf8");
        return;
      }
      case "jsonb": {
        // As row_io sends it: text as it is, anything else as its JSON.
        const text = typeof value === "string" ? value : JSON.stringify(value);
        const length = Buffer.byteLength(text, "utf8");
        this.#length(length + 1);
        this.#buffer[this.#offset++] = 1; // jsonb binary format version
        this.#offset += this.#buffer.write(text, this.#offset, length, "utf8");
        return;
      }
      case "uuid": {
        if (typeof value !== "string") return this.#fail(type, value, name);
        this.#length(16);
        if (!writeUuid(this.#buffer, this.#offset, value)) return this.#fail(type, value, name);
        this.#offset += 16;
        return;
      }
      case "int": {
        const number = typeof value === "number" ? value : typeof value === "string" && INTEGER.test(value) ? Number(value) : Number.NaN;
        if (!Number.isInteger(number) || number < -2147483648 || number > 2147483647) return this.#fail(type, value, name);
        this.#length(4);
        this.#buffer.writeInt32BE(number, this.#offset);
        this.#offset += 4;
        return;
      }
      case "bigint": {
        let big: bigint;
        if (typeof value === "number") {
          if (!Number.isSafeInteger(value)) return this.#fail(type, value, name);
          big = BigInt(value);
        } else if (typeof value === "string" && /^-?\d{1,19}$/.test(value)) big = BigInt(value);
        else return this.#fail(type, value, name);
        if (big > 9223372036854775807n || big < -9223372036854775808n) return this.#fail(type, value, name);
        this.#length(8);
        this.#buffer.writeBigInt64BE(big, this.#offset);
        this.#offset += 8;
        return;
      }
      case "timestamptz": {
        const canonical = typeof value === "string" ? canonicalIsoMicros(value) : null;
        if (canonical !== null) {
          // Two's complement in two halves: exact, the value being a safe integer.
          const high = Math.floor(canonical / 2 ** 32);
          this.#length(8);
          this.#buffer.writeInt32BE(high, this.#offset);
          this.#buffer.writeUInt32BE(canonical - high * 2 ** 32, this.#offset + 4);
          this.#offset += 8;
          return;
        }
        const micros = value instanceof Date ? BigInt(value.getTime() - PG_EPOCH_MS) * 1000n : typeof value === "string" ? timestampMicros(value) : null;
        if (micros === null) return this.#fail(type, value, name);
        this.#length(8);
        this.#buffer.writeBigInt64BE(micros, this.#offset);
        this.#offset += 8;
        return;
      }
      case "date": {
        if (typeof value !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return this.#fail(type, value, name);
        const ms = Date.parse(`${value}T00:00:00.000Z`);
        if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value) return this.#fail(type, value, name);
        this.#length(4);
        this.#buffer.writeInt32BE((ms - PG_EPOCH_MS) / DAY_MS, this.#offset);
        this.#offset += 4;
        return;
      }
      case "bytea": {
        const bytes = Buffer.isBuffer(value) ? value : Buffer.from(String(value), "utf8");
        this.#length(bytes.length);
        this.#buffer.set(bytes, this.#offset);
        this.#offset += bytes.length;
        return;
      }
      case "boolean": {
        if (typeof value !== "boolean") return this.#fail(type, value, name);
        this.#length(1);
        this.#buffer[this.#offset++] = value ? 1 : 0;
        return;
      }
      default: {
        const unhandled: never = type;
        throw new Error(`unknown column type ${String(unhandled)}`);
      }
    }
  }
}
