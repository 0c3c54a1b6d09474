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

/** A tuple's fields as views into the stream's bytes (null for SQL NULL); valid until the next chunk is pushed. */
export type Fields = (Buffer | null)[];

/**
 * Cuts a binary COPY stream into tuples. push() each chunk as it arrives; every complete
 * tuple goes to `onTuple` at once, in order; a tuple split across chunks waits for the rest.
 */
export class CopyBinaryReader {
  #pending: Buffer | null = null;
  #headerRead = false;
  #ended = false;
  readonly #onTuple: (fields: Fields) => void;

  constructor(onTuple: (fields: Fields) => void) {
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
    while (!this.#ended) {
      const start = offset;
      if (bytes.length - offset < 2) break;
      const count = bytes.readInt16BE(offset);
      offset += 2;
      if (count === -1) {
        this.#ended = true;
        break;
      }
      const fields: Fields = new Array(count);
      let complete = true;
      for (let i = 0; i < count; i++) {
        if (bytes.length - offset < 4) {
          complete = false;
          break;
        }
        const length = bytes.readInt32BE(offset);
        offset += 4;
        if (length === -1) {
          fields[i] = null;
          continue;
        }
        if (bytes.length - offset < length) {
          complete = false;
          break;
        }
        fields[i] = bytes.subarray(offset, offset + length);
        offset += length;
      }
      if (!complete) {
        offset = start;
        break;
      }
      this.#onTuple(fields);
    }
    if (offset < bytes.length && !this.#ended) {
      // Copied out: the rest of a large chunk must not keep the whole chunk alive.
      this.#pending = Buffer.from(bytes.subarray(offset));
    }
  }
}

/** An unsigned 64-bit big-endian field (xid8, or a non-negative int8) as a bigint. */
export function fieldU64(field: Buffer): bigint {
  return field.readBigUInt64BE(0);
}

/** A 64-bit big-endian signed field (int8) as a number (throws past 2^53). */
export function fieldInt8(field: Buffer): number {
  const value = field.readBigInt64BE(0);
  const number = Number(value);
  if (!Number.isSafeInteger(number)) throw new Error(`int8 ${value} is not a safe integer`);
  return number;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** A binary uuid field as its canonical lower-case text. */
export function fieldUuid(field: Buffer): string {
  let text = "";
  for (let i = 0; i < 16; i++) {
    text += HEX[field[i]!]!;
    if (i === 3 || i === 5 || i === 7 || i === 9) text += "-";
  }
  return text;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
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
        if (typeof value !== "string" || !UUID.test(value)) return this.#fail(type, value, name);
        this.#length(16);
        const hex = value.replaceAll("-", "");
        this.#offset += this.#buffer.write(hex, this.#offset, 16, "hex");
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
