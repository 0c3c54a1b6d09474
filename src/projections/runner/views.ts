/**
 * Redis view writes: a pipeline of absolute operations (SET, DEL, ZADD with absolute
 * scores, ZREM, HSET, HDEL), never increments, so repeating them is harmless.
 */
import type { ChainableCommander, Redis } from "ioredis";
import { frameView } from "../../shared/read_models.ts";
import type { ViewOp } from "../define.ts";

/**
 * Where a task's view operations go: the live worker threads write them over a raw RESP
 * connection (live_views.ts); tests and tools may use an ioredis client (ioredisViews).
 */
export interface ViewSink {
  /** Writes the operations as one transaction; false when Redis is unreachable or a command failed. */
  write(ops: readonly ViewOp[]): Promise<boolean>;
  /** After a failed write: deletes the single-value views it would have set, and the sentinel (best effort; see forgetViews). */
  forget(ops: readonly ViewOp[], sentinel: string): Promise<void>;
}

/** A ViewSink over an ioredis client (its key prefix applies). */
export function ioredisViews(redis: Redis): ViewSink {
  return { write: (ops) => writeViews(redis, ops), forget: (ops, sentinel) => forgetViews(redis, ops, sentinel) };
}

/** The operations forgetViews sends: a DEL of every key set, an HDEL of every field set, and a DEL of the sentinel. */
export function forgetOps(ops: readonly ViewOp[], sentinel: string): ViewOp[] {
  const forget: ViewOp[] = [];
  for (const op of ops) {
    if (op.op === "set") forget.push({ op: "del", key: op.key });
    else if (op.op === "hset") forget.push({ op: "hdel", key: op.key, field: op.field });
  }
  forget.push({ op: "del", key: sentinel });
  return forget;
}

/** Adds view operations to a pipeline. */
export function queueViewOps(pipeline: ChainableCommander, ops: readonly ViewOp[]): void {
  for (const op of ops) {
    switch (op.op) {
      case "set":
        pipeline.set(op.key, op.etag === undefined ? op.value : frameView(op.etag, op.value));
        break;
      case "del":
        pipeline.del(op.key);
        break;
      case "zadd":
        pipeline.zadd(op.key, op.score, op.member);
        break;
      case "zrem":
        pipeline.zrem(op.key, op.member);
        break;
      case "hset":
        pipeline.hset(op.key, op.field, op.value);
        break;
      case "hdel":
        pipeline.hdel(op.key, op.field);
        break;
      default: {
        const unhandled: never = op;
        throw new Error(`Unknown view op ${JSON.stringify(unhandled)}`);
      }
    }
  }
}

/**
 * Writes view operations as one transaction (MULTI/EXEC, one round trip): a reader never
 * sees part of a task's views, e.g. a product left one list set and not yet in the next.
 * False when Redis is unreachable or a command failed.
 */
export async function writeViews(redis: Redis, ops: readonly ViewOp[]): Promise<boolean> {
  if (ops.length === 0) return true;
  if (redis.status !== "ready") return false;
  try {
    const pipeline = redis.multi();
    queueViewOps(pipeline, ops);
    const results = (await pipeline.exec()) ?? [];
    return results.every(([error]) => error === null);
  } catch {
    return false;
  }
}

/**
 * After a failed writeViews: deletes the single-value views the operations would have set
 * (keys and hash fields), and the sentinel, in one best-effort call. A view that is missing is
 * read from the rows (always current); one left as it was would be served stale until the
 * restore reaches it. Collections (sorted sets) are covered by the sentinel: without it their
 * readers go to the rows too.
 */
export async function forgetViews(redis: Redis, ops: readonly ViewOp[], sentinel: string): Promise<void> {
  try {
    const pipeline = redis.multi();
    queueViewOps(pipeline, forgetOps(ops, sentinel));
    await pipeline.exec();
  } catch {
    // Redis unreachable: its readers fall back to the rows meanwhile, and the restore follows.
  }
}

/** Slots a SCAN step of unlinkMatching visits (and so, at most, keys it unlinks at once). */
const UNLINK_STEP = 1000;

const GLOB = /[*?[\\]/;

/** The literal part of a pattern of the form `<literal>*` (no other glob character), or null. */
function prefixPattern(pattern: string): string | null {
  const literal = pattern.slice(0, -1);
  return pattern.endsWith("*") && !GLOB.test(literal) ? literal : null;
}

/** The longest common start of the strings. */
function commonStart(texts: readonly string[]): string {
  let start = texts[0] ?? "";
  for (const text of texts) {
    let i = 0;
    while (i < start.length && i < text.length && start[i] === text[i]) i++;
    start = start.slice(0, i);
  }
  return start;
}

/**
 * The SCAN passes that cover the patterns: patterns of the form `<literal>*` go in one pass
 * matching their common start, its keys kept when they start with one of the literals (the
 * same keys as a pass per pattern: every SCAN walks the whole key space, so a restore of the
 * catalog's three collections walked a Redis of a million keys three times); any other
 * pattern gets a pass of its own.
 */
function scanPasses(patterns: readonly string[]): { match: string; keep: ((key: string) => boolean) | null }[] {
  const literals: string[] = [];
  const passes: { match: string; keep: ((key: string) => boolean) | null }[] = [];
  for (const pattern of patterns) {
    const literal = prefixPattern(pattern);
    if (literal === null) passes.push({ match: pattern, keep: null });
    else literals.push(literal);
  }
  if (literals.length === 1) passes.push({ match: `${literals[0]}*`, keep: null });
  else if (literals.length > 1) {
    const start = commonStart(literals);
    passes.push({ match: `${start}*`, keep: (key) => literals.some((literal) => key.startsWith(literal)) });
  }
  return passes;
}

/**
 * Unlinks every key matching the SCAN patterns and the exact `keys` (all given without the
 * client's key prefix), on one connection without the prefix; returns how many were removed.
 */
export async function unlinkMatching(redis: Redis, patterns: readonly string[], keys: readonly string[] = []): Promise<number> {
  const prefix = redis.options.keyPrefix ?? "";
  const plain = redis.duplicate({ keyPrefix: "", enableOfflineQueue: true, maxRetriesPerRequest: 2 });
  // Its failures reach the caller through the commands; without a listener ioredis also prints each one.
  plain.on("error", () => undefined);
  let deleted = 0;
  try {
    // A pattern with no glob character names one key: no scan of the whole key space.
    const exact = patterns.filter((pattern) => !GLOB.test(pattern));
    for (const { match, keep } of scanPasses(patterns.filter((pattern) => GLOB.test(pattern)))) {
      let cursor = "0";
      do {
        // Small steps: Redis runs one command at a time, and a SCAN of 10,000 slots with an
        // UNLINK of what it found held it for several ms each, beside live reads (dropping an
        // old version after a replay walks millions of keys).
        const [next, found] = await plain.scan(cursor, "MATCH", `${prefix}${match}`, "COUNT", UNLINK_STEP);
        cursor = next;
        const chosen = keep === null ? found : found.filter((key) => keep(key.slice(prefix.length)));
        if (chosen.length > 0) deleted += await plain.unlink(...chosen);
      } while (cursor !== "0");
    }
    const named = [...exact, ...keys];
    if (named.length > 0) deleted += await plain.unlink(...named.map((key) => `${prefix}${key}`));
  } finally {
    plain.disconnect();
  }
  return deleted;
}

interface PendingUnlink {
  patterns: readonly string[];
  keys: readonly string[];
  resolve(): void;
  reject(error: unknown): void;
}

/** Calls made this soon after the first of a pass go into that pass. */
const JOIN_WINDOW_MS = 20;

/** Per Redis key space (server, database, key prefix) whose passes are running: the calls waiting for the next pass. */
const together = new Map<string, PendingUnlink[]>();

function keySpace(redis: Redis): string {
  const { host, port, path, db, keyPrefix } = redis.options;
  return JSON.stringify([path ?? `${host}:${port}`, db ?? 0, keyPrefix ?? ""]);
}

/**
 * unlinkMatching for calls that come at once on one key space: the loops of a service that
 * start fresh versions, the replays of one run. Calls made while a pass runs, or within
 * JOIN_WINDOW_MS of the first, share one SCAN pass: every pass walks the whole Redis (about
 * 1.25 µs a key: 5.3 s for one pattern on a Redis of 4.2M keys, 6.8 s for three in one pass).
 * Resolves when a pass that covered the call is over.
 */
export function unlinkMatchingTogether(redis: Redis, patterns: readonly string[], keys: readonly string[] = []): Promise<void> {
  const space = keySpace(redis);
  return new Promise<void>((resolve, reject) => {
    const call = { patterns, keys, resolve, reject };
    const running = together.get(space);
    if (running) {
      running.push(call);
      return;
    }
    const waiting = [call];
    together.set(space, waiting);
    void (async () => {
      while (waiting.length > 0) {
        await new Promise((wait) => setTimeout(wait, JOIN_WINDOW_MS));
        const calls = waiting.splice(0, waiting.length);
        try {
          await unlinkMatching(redis, [...new Set(calls.flatMap((c) => c.patterns))], [...new Set(calls.flatMap((c) => c.keys))]);
          for (const c of calls) c.resolve();
        } catch (error) {
          for (const c of calls) c.reject(error);
        }
      }
      together.delete(space);
    })();
  });
}
