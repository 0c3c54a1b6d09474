/**
 * Gzips of prepared views made together, off the thread that prepares them: a bulk flush
 * finalizes thousands of rows at once on its build thread, the critical path of a build,
 * and a view's gzip cost ~30-55 µs there (14% of orders have one; 3.1 s of a 1M-event
 * build's 50 s in a CPU profile) while the machine's other core had time to spare.
 *
 * While a batch is current (deferringGzip), prepareView answers a placeholder for each
 * gzip; run() makes them (in a helper thread when there are enough to be worth a message,
 * else at once), and resolve() swaps a placeholder for its gzip. The bytes are the same as
 * prepareView makes them itself (same zlib, same options): only where they are made differs.
 * A helper thread that fails leaves the batch to be made here.
 */
import { Worker } from "node:worker_threads";
import { gzipSync } from "node:zlib";

/**
 * The options every view's gzip is made with, here and in the helper (its workerData): the
 * zlib level, and the output buffer sized to the view plus `slack` (gzip of incompressible
 * bytes adds ~23): zlib's default 16 KiB chunk would be allocated per call and kept whole by
 * the answer, a slice of it.
 */
const GZIP_OPTIONS = { level: 6, slack: 64 } as const;

/** A view's gzip, as prepareView makes it. */
export function gzipView(view: Uint8Array): Buffer {
  return gzipSync(view, { level: GZIP_OPTIONS.level, chunkSize: view.length + GZIP_OPTIONS.slack });
}

/** Fewer deferred views than this are gzipped at once, here: a round trip to the helper is not worth it. */
const HELPER_MIN_VIEWS = 16;

/** The helper thread's code (plain JavaScript, evaluated: no loader needed): gzips each view of a message, answers them in one buffer. */
const HELPER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { gzipSync } = require("node:zlib");
const { level, slack } = workerData;
parentPort.on("message", ({ id, bytes, ends }) => {
  const input = Buffer.from(bytes);
  const parts = [];
  let total = 0;
  let start = 0;
  for (const end of ends) {
    const gz = gzipSync(input.subarray(start, end), { level, chunkSize: end - start + slack });
    parts.push(gz);
    total += gz.length;
    start = end;
  }
  const out = new Uint8Array(total);
  const outEnds = new Int32Array(parts.length);
  let at = 0;
  parts.forEach((gz, i) => {
    out.set(gz, at);
    at += gz.length;
    outEnds[i] = at;
  });
  parentPort.postMessage({ id, bytes: out.buffer, ends: outEnds }, [out.buffer, outEnds.buffer]);
});
`;

interface Reply {
  id: number;
  bytes: ArrayBuffer;
  ends: Int32Array;
}

/** This thread's helper, started on first use; null after it failed (batches are then made here). */
let helper: { worker: Worker; pending: Map<number, { resolve(reply: Reply): void; reject(error: unknown): void }>; next: number } | null = null;
let helperFailed = false;

function startHelper(): NonNullable<typeof helper> {
  const worker = new Worker(HELPER_SOURCE, { eval: true, name: "view-gzip", workerData: GZIP_OPTIONS });
  const started = { worker, pending: new Map<number, { resolve(reply: Reply): void; reject(error: unknown): void }>(), next: 1 };
  worker.unref();
  const fail = (error: unknown): void => {
    helperFailed = true;
    if (helper === started) helper = null;
    for (const waiter of started.pending.values()) waiter.reject(error);
    started.pending.clear();
  };
  worker.on("message", (reply: Reply) => {
    const waiter = started.pending.get(reply.id);
    started.pending.delete(reply.id);
    if (started.pending.size === 0) worker.unref();
    waiter?.resolve(reply);
  });
  worker.on("error", fail);
  worker.on("exit", (code) => fail(new Error(`view gzip helper exited (${code})`)));
  return started;
}

/** Gzips the views in the helper thread (one message each way). */
function gzipInHelper(views: readonly Buffer[]): Promise<Buffer[]> {
  helper ??= startHelper();
  const current = helper;
  let total = 0;
  for (const view of views) total += view.length;
  const input = new Uint8Array(total);
  const ends = new Int32Array(views.length);
  let at = 0;
  views.forEach((view, i) => {
    input.set(view, at);
    at += view.length;
    ends[i] = at;
  });
  const id = current.next++;
  return new Promise<Reply>((resolve, reject) => {
    current.pending.set(id, { resolve, reject });
    current.worker.ref();
    current.worker.postMessage({ id, bytes: input.buffer, ends }, [input.buffer, ends.buffer]);
  }).then((reply) => {
    const out = Buffer.from(reply.bytes);
    let start = 0;
    return Array.from(reply.ends, (end) => {
      const gz = out.subarray(start, end);
      start = end;
      return gz;
    });
  });
}

export class GzipBatch {
  readonly #views: Buffer[] = [];
  readonly #slots = new Map<Buffer, number>();
  #gzips: Buffer[] | null = null;

  /** A placeholder for the view's gzip (a distinct empty buffer), swapped by resolve() once run() made it. */
  defer(view: Buffer): Buffer {
    if (this.#gzips !== null) throw new Error("gzip batch already made");
    const placeholder = Buffer.alloc(0);
    this.#slots.set(placeholder, this.#views.length);
    this.#views.push(view);
    return placeholder;
  }

  /** Views deferred. */
  get size(): number {
    return this.#views.length;
  }

  /** Makes every deferred gzip: in the helper thread when there are enough, else (or when it fails) here. */
  async run(): Promise<void> {
    if (this.#gzips !== null) return;
    const views = this.#views;
    if (views.length >= HELPER_MIN_VIEWS && !helperFailed) {
      try {
        this.#gzips = await gzipInHelper(views);
        return;
      } catch {
        // The helper failed: made here instead (and from now on).
      }
    }
    this.#gzips = views.map(gzipView);
  }

  /** The gzip for a placeholder of this batch (after run()); anything else is answered as it is. */
  resolve<T>(value: T): T | Buffer {
    if (!Buffer.isBuffer(value) || value.length !== 0) return value;
    const slot = this.#slots.get(value);
    if (slot === undefined) return value;
    if (this.#gzips === null) throw new Error("gzip batch not made yet");
    return this.#gzips[slot]!;
  }
}

/** The batch prepareView defers gzips to, if any. */
let current: GzipBatch | null = null;

/** The current batch (prepareView's), or null: gzips are made at once. */
export function currentGzipBatch(): GzipBatch | null {
  return current;
}

/** Runs `work` with gzips of prepared views deferred to `batch` (synchronous work only). */
export function deferringGzip<T>(batch: GzipBatch, work: () => T): T {
  const previous = current;
  current = batch;
  try {
    return work();
  } finally {
    current = previous;
  }
}
