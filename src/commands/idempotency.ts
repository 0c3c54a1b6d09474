/**
 * Idempotency keys: a repeat of the same request (route + params + body) with the same key
 * from the same client (token) within 24 h answers the first status and body again and
 * appends nothing; the same key with another request answers 422. Appending results are recorded by the event store in the
 * append's transaction; results that append nothing are recorded here.
 */
import { createHash } from "node:crypto";
import type { Pool } from "../db/pool.ts";
import { UnprocessableError, ValidationError } from "../shared/errors.ts";
import { canonicalJson } from "./canonical_json.ts";

const KEY_PATTERN = /^[\x20-\x7e]{1,200}$/;

/** What identifies one keyed request. */
export interface IdempotentRequest {
  key: string;
  /** Method and route template, e.g. `POST /v1/orders/:id/pay`. */
  scope: string;
  requestHash: string;
}

/** An answer to send again: status, JSON body and headers. */
export interface StoredAnswer {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

/** A result that appended nothing, to be recorded for replays. */
export interface NonAppendResult {
  status: number;
  body: unknown;
  resourceId: string | null;
  version: number | null;
  position: string | null;
}

interface KeyRow {
  scope: string;
  request_hash: string;
  status: number;
  resource_id: string | null;
  /** The answer's JSON text as first sent (null for an append's answer, rebuilt from its columns). */
  body: string | null;
  version: string | null;
  position: string | null;
}

/** Parses the Idempotency-Key header: null when absent, 400 unless 1..200 printable ASCII. */
export function parseIdempotencyKey(header: string | undefined): string | null {
  if (header === undefined) return null;
  if (!KEY_PATTERN.test(header)) {
    throw new ValidationError([{ path: "headers.Idempotency-Key", message: "must be 1..200 printable ASCII characters" }]);
  }
  return header;
}

/**
 * The key as stored: one key space per client (the token's, see clientOf), so two clients that
 * pick the same key never see each other's answers, and a client's retry finds only its own.
 * A tab cannot occur in a key (printable ASCII only), so the two parts never run together.
 */
export function clientKey(client: string | null, key: string): string {
  return client === null ? key : `${client}\t${key}`;
}

/** The sha256 hash of a request: method, route template, route params and canonical body. */
export function requestHash(method: string, template: string, params: Record<string, string>, body: unknown): string {
  return createHash("sha256")
    .update([method.toUpperCase(), template, canonicalJson(params), canonicalJson(body)].join("\n"))
    .digest("hex");
}

/** The Location of a created resource from its create route scope (`POST /v1/orders` → `/v1/orders/<id>`). */
export function locationFor(scope: string, id: string): string {
  return `${scope.slice(scope.indexOf(" ") + 1)}/${id}`;
}

function answerOf(row: KeyRow): StoredAnswer {
  const headers: Record<string, string> = { "Idempotent-Replayed": "true" };
  if (row.version !== null && row.status < 300) headers["ETag"] = `"${row.version}"`;
  if (row.status === 201 && row.resource_id !== null) headers["Location"] = locationFor(row.scope, row.resource_id);
  // Parsed from the text first sent: the keys keep their order, so the replay's bytes are the same.
  if (row.body !== null) return { status: row.status, body: JSON.parse(row.body) as unknown, headers };
  const body = { id: row.resource_id, version: Number(row.version), position: row.position };
  return { status: row.status, body, headers };
}

/**
 * Looks a key up (recorded within 24 h). Returns the answer to replay for the same request,
 * null when the key is unknown; throws 422 when the key was used for another request.
 */
export async function lookupIdempotency(pool: Pool, request: IdempotentRequest): Promise<StoredAnswer | null> {
  const result = await pool.query<KeyRow>(
    `SELECT scope, request_hash, status, resource_id, body, version::text AS version, position
       FROM idempotency_keys WHERE key = $1 AND created_at > now() - interval '24 hours'`,
    [request.key],
  );
  const row = result.rows[0];
  if (!row) return null;
  if (row.scope !== request.scope || row.request_hash !== request.requestHash) {
    throw new UnprocessableError("The Idempotency-Key was already used with another request");
  }
  return answerOf(row);
}

/** Records a result that appended nothing; false when the key was recorded meanwhile. */
export async function recordNonAppend(pool: Pool, request: IdempotentRequest, result: NonAppendResult): Promise<boolean> {
  const inserted = await pool.query(
    `INSERT INTO idempotency_keys AS k (key, scope, request_hash, status, resource_id, body, version, position)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (key) DO UPDATE
       SET scope = excluded.scope, request_hash = excluded.request_hash, status = excluded.status,
           resource_id = excluded.resource_id, body = excluded.body, stream_id = NULL,
           version = excluded.version, position = excluded.position, created_at = now()
       WHERE k.created_at < now() - interval '24 hours'
     RETURNING key`,
    [request.key, request.scope, request.requestHash, result.status, result.resourceId, JSON.stringify(result.body), result.version, result.position],
  );
  return (inserted.rowCount ?? 0) > 0;
}

/** Thrown when a request with the same key is still being executed elsewhere; the caller waits for its answer. */
export class IdempotencyInFlightError extends Error {
  constructor() {
    super("A request with this Idempotency-Key is in flight");
  }
}

/** Waits (bounded) for a concurrent request with the same key to record its answer. */
export async function awaitRecordedAnswer(pool: Pool, request: IdempotentRequest, timeoutMs = 3000): Promise<StoredAnswer | null> {
  const deadline = performance.now() + timeoutMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    const answer = await lookupIdempotency(pool, request);
    if (answer !== null || performance.now() >= deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
