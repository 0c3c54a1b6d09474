/**
 * The live projection tasks' Redis view writes, over one raw RESP connection per worker
 * thread (RespWriter.transaction): a task's operations are encoded into one buffer and sent as
 * one MULTI/EXEC, and its replies only counted. Through ioredis every operation was a Command
 * object with its argument array and promise: 28% of a worker thread's allocations under
 * place-order load, and 64% of what survived its young generation into the old one, which set
 * the pace of its full collections (bench/RESULTS.md, the thirteenth session).
 *
 * Like the ioredis client it replaces (no offline queue, a command timeout, reconnects with a
 * growing pause): while Redis is unreachable a write fails at once (the task marks the views
 * for a restore), and the connection is made again in the background.
 */
import type { ViewOp } from "../define.ts";
import { RespWriter } from "../bulk/resp_writer.ts";
import { forgetOps, type ViewSink } from "./views.ts";

export interface LiveViewsOptions {
  /** Longest wait for a connection (and its AUTH/SELECT), ms. */
  connectTimeoutMs?: number;
  /** Longest wait for Redis to answer a write before the connection is given up, ms (ioredis's commandTimeout before). */
  stallMs?: number;
  /** Pause before the n-th attempt to reconnect: min(n × this, maxRetryMs). */
  retryStepMs?: number;
  maxRetryMs?: number;
  /** The connection's name in Redis's CLIENT LIST (default "projection-views"). */
  name?: string;
}

export class LiveViews implements ViewSink {
  readonly #url: string;
  readonly #prefix: string;
  readonly #connectTimeoutMs: number;
  readonly #stallMs: number;
  readonly #retryStepMs: number;
  readonly #maxRetryMs: number;
  readonly #name: string;
  #writer: RespWriter | null = null;
  #retry: ReturnType<typeof setTimeout> | null = null;
  #attempts = 0;
  #closed = false;
  #refused = false;

  constructor(url: string, prefix: string, options: LiveViewsOptions = {}) {
    this.#url = url;
    this.#prefix = prefix;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    this.#stallMs = options.stallMs ?? 2000;
    this.#retryStepMs = options.retryStepMs ?? 200;
    this.#maxRetryMs = options.maxRetryMs ?? 1000;
    this.#name = options.name ?? "projection-views";
    void this.#connect();
  }

  /** True while a connection is open and has not failed. */
  get ready(): boolean {
    return this.#writer?.usable === true;
  }

  /** True once an attempt to connect failed (until one succeeds): writes fail at once meanwhile. */
  get refused(): boolean {
    return this.#refused;
  }

  async write(ops: readonly ViewOp[]): Promise<boolean> {
    if (ops.length === 0) return true;
    const writer = this.#writer;
    if (writer === null || !writer.usable) return false;
    try {
      await writer.transaction(ops);
      return true;
    } catch {
      // An error reply leaves the connection open but its writer failed for good: start a fresh one.
      writer.close();
      return false;
    }
  }

  async forget(ops: readonly ViewOp[], sentinel: string): Promise<void> {
    await this.write(forgetOps(ops, sentinel));
  }

  close(): void {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = null;
    this.#writer?.close();
    this.#writer = null;
  }

  /** One attempt to connect; a failure, or the connection closing later, schedules the next (one attempt at a time). */
  async #connect(): Promise<void> {
    try {
      const writer = await RespWriter.connect(this.#url, this.#prefix, this.#connectTimeoutMs, this.#stallMs, this.#name);
      if (this.#closed) {
        writer.close();
        return;
      }
      this.#writer = writer;
      this.#attempts = 0;
      this.#refused = false;
      writer.onClose(() => {
        if (this.#writer !== writer) return;
        this.#writer = null;
        this.#reconnectLater();
      });
    } catch {
      this.#refused = true;
      this.#reconnectLater();
    }
  }

  #reconnectLater(): void {
    if (this.#closed || this.#retry !== null) return;
    this.#attempts++;
    this.#retry = setTimeout(() => {
      this.#retry = null;
      void this.#connect();
    }, Math.min(this.#attempts * this.#retryStepMs, this.#maxRetryMs));
  }
}
