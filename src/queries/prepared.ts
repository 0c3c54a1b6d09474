/**
 * Reading a prepared answer: Redis first (its key, and the precomputed gzip's when the
 * client accepts gzip, in the MGET batch of this event-loop turn), and the PostgreSQL row's prepared columns when Redis is
 * absent, not ready, failing, or lacks the key. Both give the same bytes and etag.
 */
import type { Redis } from "ioredis";
import type { PreparedAnswer } from "../http/conditional.ts";
import type { Pool } from "../db/pool.ts";
import { unframeView } from "../shared/read_models.ts";
import { redisReadFailed, redisUsable } from "./redis_health.ts";
import type { QueryDeps } from "./deps.ts";
import { getViews } from "./view_batch.ts";
import type { ViewCache } from "./view_cache.ts";
import { viewOrTable, type ViewSource } from "./view_source.ts";

export interface PreparedLookup {
  redis: Redis | null;
  /** The in-process copy of the views, used unless `fresh`. */
  cache?: ViewCache | null | undefined;
  /** The read must reflect a position (X-Consistent-With): ask Redis, not the in-process copy, whose invalidation may still be on its way. */
  fresh?: boolean;
  /** Redis key of the framed view. */
  viewKey: string;
  /** Redis key of the framed gzip; read only when `wantGzip`. */
  gzipKey: string;
  wantGzip: boolean;
  pool: Pool;
  /** SQL selecting `etag, view, view_gz` of one row by `$1`. */
  sql: string;
  key: string;
  /** Told where the answer came from. */
  onViewRead?: QueryDeps["onViewRead"];
}

/** The prepared answer in a framed view and, when read, its framed gzip; null when the view is absent or malformed. */
export function preparedFromViews(framed: Buffer | null | undefined, framedGz: Buffer | null | undefined): PreparedAnswer | null {
  if (framed === null || framed === undefined) return null;
  const view = unframeView(framed);
  if (view === null) return null;
  const gz = framedGz ? unframeView(framedGz) : null;
  // The gzip is used only when it belongs to the same bytes (same etag).
  return { etag: view.etag, body: view.body, gzip: gz !== null && gz.etag === view.etag ? gz.body : null };
}

async function fromRedis(lookup: PreparedLookup): Promise<(PreparedAnswer & { source: ViewSource }) | null> {
  const redis = lookup.redis;
  if (!redisUsable(redis)) return null;
  try {
    const keys = lookup.wantGzip ? [lookup.viewKey, lookup.gzipKey] : [lookup.viewKey];
    const cache = lookup.fresh ? null : lookup.cache;
    const read = cache?.live ? await cache.get(keys) : { values: await getViews(redis, keys), fromMemory: false };
    const answer = preparedFromViews(read.values[0], read.values[1]);
    return answer === null ? null : { ...answer, source: read.fromMemory ? "memory" : "redis" };
  } catch (error) {
    redisReadFailed(redis, error);
    return null;
  }
}

async function fromPostgres(lookup: PreparedLookup): Promise<PreparedAnswer | null> {
  const result = await lookup.pool.query<{ etag: string; view: Buffer; view_gz: Buffer | null }>(lookup.sql, [lookup.key]);
  const row = result.rows[0];
  if (row === undefined || row.view === null) return null;
  return { etag: row.etag, body: row.view, gzip: row.view_gz };
}

/** The statement that reads one row's prepared answer by a unique column (`$1`). */
export function preparedSql(table: string, column: string): string {
  return `SELECT etag, view, view_gz FROM ${table} WHERE ${column} = $1`;
}

/** The prepared answer for one key, from the in-process copy or Redis, or else PostgreSQL; null when absent. The source is counted. */
export async function readPrepared(lookup: PreparedLookup): Promise<PreparedAnswer | null> {
  return viewOrTable(lookup.onViewRead, () => fromRedis(lookup), () => fromPostgres(lookup), (viewed) => viewed.source);
}

const ITEMS_OPEN = Buffer.from('{"items":[');
const COMMA = 0x2c;

/**
 * Joins prepared item bytes into `{"items":[…]` + tail, without parsing them: one buffer
 * sized up front and filled by copies (a small Buffer per separator was 417 MB of the 4,479 MB
 * a heap profile of the service saw allocated in one mixed-90-10-steady run).
 */
export function itemsBody(items: readonly Buffer[], tail: string): Buffer {
  const end = `]${tail}}`;
  let length = ITEMS_OPEN.length + Buffer.byteLength(end) + Math.max(0, items.length - 1);
  for (const item of items) length += item.length;
  const body = Buffer.allocUnsafe(length);
  let at = ITEMS_OPEN.copy(body, 0);
  for (let i = 0; i < items.length; i++) {
    if (i > 0) body[at++] = COMMA;
    at += items[i]!.copy(body, at);
  }
  body.write(end, at, "utf8");
  return body;
}
