/**
 * A write-only Redis pipeline for bulk builds: the view operations (SET, DEL, ZADD, ZREM,
 * HSET, HDEL, and MULTI/EXEC around moves) encoded straight into RESP bytes on one
 * connection, and their replies only counted and checked for errors. A bulk build writes
 * millions of commands; through ioredis each one is a Command object, an argument array and
 * a promise (12.8 of a build's 89 s of CPU in a profile); here it is a few bytes appended
 * to a buffer.
 *
 * Every reply to these commands is one line (`+OK`, `:1`, `+QUEUED`, `-ERR …`), except
 * EXEC's: an array header `*n` and n such lines. Any `-` line fails the pipeline.
 */
import net from "node:net";
import tls from "node:tls";
import type { ViewOp } from "../define.ts";

/** Bytes buffered before they are written to the socket. */
const WRITE_CHUNK = 256 * 1024;
/** Commands written and not yet answered at most (then writing waits for replies). */
const MAX_UNANSWERED = 20_000;
/** Longest wait for Redis to take bytes or answer (then the connection is given up): a Redis that stops answering must not hold a flush, and its open transaction, forever. */
const STALL_MS = 10_000;

export class RespError extends Error {}

/** Parses a Redis URL (redis:// or rediss://, user, password, database index). */
function target(url: string): { host: string; port: number; tls: boolean; username: string; password: string; db: number } {
  const parsed = new URL(url);
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") throw new Error(`unsupported Redis URL scheme ${parsed.protocol}`);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1",
    port: parsed.port ? Number(parsed.port) : 6379,
    tls: parsed.protocol === "rediss:",
    username: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    db: Number.isSafeInteger(db) ? db : 0,
  };
}

export class RespWriter {
  readonly #socket: net.Socket;
  readonly #prefix: string;
  readonly #encoder: RespEncoder;
  /** Elements still expected of an EXEC reply being read. */
  #inArray = 0;
  /** The start of a reply line that has not fully arrived. */
  #carry: Buffer | null = null;
  #failure: Error | null = null;
  #waiters: (() => void)[] = [];
  /** Commands written and replies read since the connection opened (transaction() waits for its own). */
  #sent = 0;
  #answeredTotal = 0;
  /** Written commands whose replies are still expected. */
  get #inFlight(): number {
    return this.#sent - this.#answeredTotal;
  }
  /** The number of the command whose reply was the first error reply (the commands before it were answered). */
  #failedAt = Number.POSITIVE_INFINITY;
  #onClose: (() => void)[] = [];

  readonly #stallMs: number;

  private constructor(socket: net.Socket, prefix: string, stallMs: number) {
    this.#socket = socket;
    this.#prefix = prefix;
    this.#encoder = new RespEncoder(prefix);
    this.#stallMs = stallMs;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#read(chunk));
    const fail = (error: Error): void => {
      this.#failure ??= error;
      this.#wake();
      socket.destroy();
    };
    socket.on("error", fail);
    socket.on("close", () => {
      fail(new RespError("Redis connection closed"));
      for (const listener of this.#onClose.splice(0)) listener();
    });
  }

  /** Calls `listener` once the connection has closed (after a failure, close(), or Redis ending it). */
  onClose(listener: () => void): void {
    if (this.#socket.destroyed) queueMicrotask(listener);
    else this.#onClose.push(listener);
  }

  /**
   * Connects (AUTH and SELECT as the URL says, and CLIENT SETNAME when a `name` without spaces
   * is given, within the same timeout); keys of every command get `prefix`.
   */
  static async connect(url: string, prefix: string, timeoutMs = 5000, stallMs = STALL_MS, name?: string): Promise<RespWriter> {
    const where = target(url);
    const socket = where.tls ? tls.connect({ host: where.host, port: where.port, servername: where.host }) : net.connect({ host: where.host, port: where.port });
    const timer = setTimeout(() => socket.destroy(new RespError("Redis connect timeout")), timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once(where.tls ? "secureConnect" : "connect", () => resolve());
        socket.once("error", reject);
        socket.once("close", () => reject(new RespError("Redis connection closed")));
      });
      const writer = new RespWriter(socket, prefix, stallMs);
      if (where.password) writer.#encoder.command(where.username ? ["AUTH", where.username, where.password] : ["AUTH", where.password]);
      if (where.db !== 0) writer.#encoder.command(["SELECT", String(where.db)]);
      if (name !== undefined && /^[\x21-\x7e]+$/.test(name)) writer.#encoder.command(["CLIENT", "SETNAME", name]);
      await writer.flush();
      return writer;
    } catch (error) {
      socket.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** False once the connection failed or closed: make a new writer. */
  get usable(): boolean {
    return this.#failure === null;
  }

  /** Queues view operations (keys without the prefix); `atomic` wraps them in MULTI/EXEC. */
  async write(ops: readonly ViewOp[], atomic = false): Promise<void> {
    const encoder = this.#encoder;
    if (atomic) encoder.command(["MULTI"]);
    for (const op of ops) {
      encoder.op(op);
      if (encoder.offset >= WRITE_CHUNK) await this.#send();
    }
    if (atomic) encoder.command(["EXEC"]);
    if (encoder.offset >= WRITE_CHUNK) await this.#send();
  }

  /**
   * Sends view operations as one MULTI/EXEC, encoded and written at once, and resolves when
   * Redis has answered all of it; rejects when any of its replies is an error, or the
   * connection fails or stalls before it is answered. Several may be in flight at once (the
   * live tasks of a worker thread share the connection); each waits for its own replies only.
   * Not to be mixed with write()'s buffered commands.
   */
  async transaction(ops: readonly ViewOp[]): Promise<void> {
    if (this.#failure) throw this.#failure;
    const encoder = this.#encoder;
    if (encoder.offset > 0) throw new Error("transaction() on a writer holding buffered commands");
    encoder.command(["MULTI"]);
    for (const op of ops) encoder.op(op);
    encoder.command(["EXEC"]);
    const { bytes, commands } = encoder.take();
    this.#sent += commands;
    const last = this.#sent;
    this.#socket.write(bytes);
    while (this.#answeredTotal < last && this.#failure === null) await this.#progress();
    if (this.#failedAt <= last || this.#answeredTotal < last) throw this.#failure ?? new RespError("Redis did not answer");
  }

  /** A stage for this connection's key prefix: operations encoded now, sent later by sendStage. */
  stage(): RespStage {
    return new RespStage(this.#prefix);
  }

  /** Sends a stage's commands (after whatever this writer buffered), with the same bounds as write(). */
  async sendStage(stage: RespStage): Promise<void> {
    await this.#send();
    for (const chunk of stage.take()) await this.#sendBytes(chunk.bytes, chunk.commands);
  }

  /** Sends what is buffered and waits for every reply; rejects when any command failed (the first error) or Redis stalled. */
  async flush(): Promise<void> {
    await this.#send();
    while (this.#inFlight > 0 && this.#failure === null) await this.#progress();
    if (this.#failure) throw this.#failure;
  }

  /** Resolves at the next reply, drain or failure; gives the connection up when none comes for STALL_MS. */
  async #progress(waitForDrain = false): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#failure ??= new RespError(`Redis did not answer for ${this.#stallMs} ms`);
        this.close();
        resolve();
      }, this.#stallMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#socket.off("drain", done);
        resolve();
      };
      this.#waiters.push(done);
      if (waitForDrain) this.#socket.once("drain", done);
    });
  }

  close(): void {
    this.#failure ??= new RespError("closed");
    this.#socket.destroy();
    this.#wake();
  }

  async #send(): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (this.#encoder.offset === 0) return;
    const { bytes, commands } = this.#encoder.take();
    await this.#sendBytes(bytes, commands);
  }

  async #sendBytes(bytes: Buffer, commands: number): Promise<void> {
    if (this.#failure) throw this.#failure;
    // Bounded: wait for replies while too much is unanswered.
    while (this.#inFlight > MAX_UNANSWERED && this.#failure === null) await this.#progress();
    if (this.#failure) throw this.#failure;
    this.#sent += commands;
    if (!this.#socket.write(bytes)) {
      while (this.#socket.writableNeedDrain && this.#failure === null) await this.#progress(true);
      if (this.#failure) throw this.#failure;
    }
  }

  /**
   * Reads reply lines straight from the bytes (every reply here is a line, or EXEC's `*n` and n
   * lines): no string per reply, only for an error's message.
   */
  #read(chunk: Buffer): void {
    const bytes = this.#carry === null ? chunk : Buffer.concat([this.#carry, chunk]);
    this.#carry = null;
    let start = 0;
    for (;;) {
      const end = bytes.indexOf(10, start); // \n of the line's \r\n (reply lines hold neither)
      if (end === -1) break;
      this.#line(bytes, start, end - 1);
      start = end + 1;
    }
    if (start < bytes.length) this.#carry = Buffer.from(bytes.subarray(start));
    this.#wake();
  }

  /** One reply line, bytes[start, end) without its CRLF. */
  #line(bytes: Buffer, start: number, end: number): void {
    const type = bytes[start];
    if (type === 45 && this.#failure === null) { // -
      this.#failure = new RespError(bytes.toString("utf8", start + 1, end));
      this.#failedAt = this.#answeredTotal + 1;
    }
    if (this.#inArray > 0) {
      if (--this.#inArray === 0) this.#answered();
      return;
    }
    if (type === 42) { // *
      let count = 0;
      for (let i = start + 1; i < end; i++) {
        const digit = bytes[i]! - 48;
        if (digit < 0 || digit > 9) {
          count = 0; // *-1 (no array) or malformed: one reply
          break;
        }
        count = count * 10 + digit;
      }
      if (count > 0) {
        this.#inArray = count;
        return;
      }
    }
    this.#answered();
  }

  #answered(): void {
    this.#answeredTotal++;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Encodes commands into RESP bytes; view operations get the key prefix. */
class RespEncoder {
  buffer = Buffer.allocUnsafe(WRITE_CHUNK * 2);
  offset = 0;
  /** Commands encoded since the last take(). */
  commands = 0;
  readonly #prefix: string;

  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  /** Encodes one view operation (its key without the prefix). */
  op(op: ViewOp): void {
    const key = this.#prefix + op.key;
    switch (op.op) {
      case "set":
        return op.etag === undefined ? this.command(["SET", key, op.value]) : this.#framedSet(key, op.etag, op.value);
      case "del":
        return this.command(["DEL", key]);
      case "zadd":
        return this.command(["ZADD", key, String(op.score), op.member]);
      case "zrem":
        return this.command(["ZREM", key, op.member]);
      case "hset":
        return this.command(["HSET", key, op.field, op.value]);
      case "hdel":
        return this.command(["HDEL", key, op.field]);
      default: {
        const unhandled: never = op;
        throw new Error(`Unknown view op ${JSON.stringify(unhandled)}`);
      }
    }
  }

  command(args: readonly (string | Buffer)[]): void {
    let size = 16;
    for (const arg of args) size += (typeof arg === "string" ? arg.length * 3 : arg.length) + 16;
    this.#reserve(size);
    this.#header(42, args.length); // *
    for (const arg of args) {
      if (typeof arg !== "string") {
        this.#header(36, arg.length); // $
        this.buffer.set(arg, this.offset);
        this.offset += arg.length;
      } else this.#string(arg);
      this.buffer[this.offset++] = 13;
      this.buffer[this.offset++] = 10;
    }
    this.commands++;
  }

  /** `SET key <etag>\n<body>` (a framed view, as frameView makes it) with the frame written in place. */
  #framedSet(key: string, etag: string, body: Buffer): void {
    this.#reserve(64 + key.length * 3 + etag.length * 3 + body.length);
    this.#header(42, 3); // *
    this.#string("SET");
    this.buffer[this.offset++] = 13;
    this.buffer[this.offset++] = 10;
    this.#string(key);
    this.buffer[this.offset++] = 13;
    this.buffer[this.offset++] = 10;
    // Written as frameView writes it: latin1, one byte per character (etags are ASCII).
    this.#header(36, etag.length + 1 + body.length); // $
    this.offset += this.buffer.write(etag, this.offset, "latin1");
    this.buffer[this.offset++] = 10;
    this.buffer.set(body, this.offset);
    this.offset += body.length;
    this.buffer[this.offset++] = 13;
    this.buffer[this.offset++] = 10;
    this.commands++;
  }

  /** The bytes and commands encoded so far (copied out), and a fresh start. */
  take(): { bytes: Buffer; commands: number } {
    const taken = { bytes: Buffer.from(this.buffer.subarray(0, this.offset)), commands: this.commands };
    this.offset = 0;
    this.commands = 0;
    return taken;
  }

  /**
   * Writes `$<length>\r\n<bytes>` of a string (room reserved by command()). It is taken to be
   * ASCII (keys and members are): the header says its length and one call writes its bytes;
   * when they are more than that (non-ASCII), it is written again with its byte length. One
   * call into C++ against a loop over the characters of a concatenated string (2.5 s of a 46 s
   * CPU profile of an orders build).
   */
  #string(text: string): void {
    const start = this.offset;
    this.#header(36, text.length);
    const written = this.buffer.write(text, this.offset, "utf8");
    if (written === text.length) {
      this.offset += written;
      return;
    }
    this.offset = start;
    const length = Buffer.byteLength(text, "utf8");
    this.#header(36, length);
    this.offset += this.buffer.write(text, this.offset, length, "utf8");
  }

  /** Writes a RESP header: the type byte, a non-negative integer, CRLF. */
  #header(type: number, value: number): void {
    const buffer = this.buffer;
    buffer[this.offset++] = type;
    if (value < 10) buffer[this.offset++] = 48 + value;
    else this.offset += buffer.write(String(value), this.offset, "latin1");
    buffer[this.offset++] = 13;
    buffer[this.offset++] = 10;
  }

  #reserve(bytes: number): void {
    if (this.offset + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.offset + bytes));
    grown.set(this.buffer.subarray(0, this.offset));
    this.buffer = grown;
  }
}

/**
 * View operations encoded ahead of sending (RespWriter.stage, then sendStage): a bulk flush
 * encodes each row's additions as it finalizes the row, before its transaction may send
 * anything, so no operation object outlives its row's turn (a flush's 20,000-odd operations,
 * kept until sent, were promoted to the old generation with their key strings).
 */
export class RespStage {
  readonly #encoder: RespEncoder;
  readonly #chunks: { bytes: Buffer; commands: number }[] = [];

  constructor(prefix: string) {
    this.#encoder = new RespEncoder(prefix);
  }

  /** Encodes a view operation (its key without the prefix). */
  add(op: ViewOp): void {
    this.#encoder.op(op);
    if (this.#encoder.offset >= WRITE_CHUNK) this.#chunks.push(this.#encoder.take());
  }

  /** Commands encoded so far. */
  get commands(): number {
    let commands = this.#encoder.commands;
    for (const chunk of this.#chunks) commands += chunk.commands;
    return commands;
  }

  /** Every chunk encoded, in order (the stage is empty afterwards). */
  take(): { bytes: Buffer; commands: number }[] {
    const chunks = this.#chunks.splice(0);
    if (this.#encoder.offset > 0) chunks.push(this.#encoder.take());
    return chunks;
  }
}
