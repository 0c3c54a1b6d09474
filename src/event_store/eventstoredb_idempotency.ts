/**
 * Idempotency keys for the EventStoreDB store, kept in PostgreSQL (`idempotency_keys`).
 *
 * The PostgreSQL store records the key in the same transaction as the events. EventStoreDB
 * cannot share a transaction with PostgreSQL, so an idempotent append is three steps:
 *   1. claim: insert the key (a fresh key already there → DuplicateIdempotencyKeyError,
 *      nothing appended; a key older than 24 h is taken over, as in append_events);
 *   2. append with deterministic event ids (eventstoredb_codec.ts#idempotentEventId); on a
 *      connection failure the same events (same ids, same expected revision) are re-sent a
 *      few times, and EventStoreDB's idempotent appends write them at most once;
 *   3. complete: write version and position into the claimed row; or, when the append
 *      definitely failed (conflict) or kept failing, release (delete) the claim.
 *
 * The guarantee: while a key is claimed or recorded (24 h), a second request with it appends
 * nothing. What is weaker than PostgreSQL: (a) a process that dies between 1 and 3 leaves a
 * claim with `version` NULL, which blocks the key (the events may or may not be written);
 * (b) if every re-send fails with a connection error the claim is released although the
 * first send may have been written; a client retry then re-runs the command, and it is
 * deduplicated only if it appends the same events at the same expected version (with
 * expected version `any`, EventStoreDB's deduplication is best effort).
 */
import { isConnectionError, type Pool } from "../db/pool.ts";
import { DuplicateIdempotencyKeyError, StoreUnavailableError } from "../shared/errors.ts";
import { encodePosition, type Position } from "../shared/position.ts";
import type { IdempotencyRecord } from "./types.ts";

const CLAIM_SQL = `
  INSERT INTO idempotency_keys AS k (key, scope, request_hash, status, resource_id, stream_id)
  VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT (key) DO UPDATE
    SET scope = excluded.scope, request_hash = excluded.request_hash, status = excluded.status,
        resource_id = excluded.resource_id, body = NULL, stream_id = excluded.stream_id,
        version = NULL, position = NULL, created_at = now()
    WHERE k.created_at < now() - interval '24 hours'
  RETURNING k.key`;

async function query(pool: Pool, sql: string, values: unknown[]): Promise<number> {
  try {
    const result = await pool.query(sql, values);
    return result.rowCount ?? 0;
  } catch (error) {
    if (isConnectionError(error)) throw new StoreUnavailableError("PostgreSQL", { cause: error });
    throw error;
  }
}

/** Claims a key for an append to a stream; throws DuplicateIdempotencyKeyError when a fresh claim exists. */
export async function claimIdempotencyKey(pool: Pool, record: IdempotencyRecord, streamId: string): Promise<void> {
  const values = [record.key, record.scope, record.requestHash, record.status, record.resourceId, streamId];
  const claimed = await query(pool, CLAIM_SQL, values);
  if (claimed === 0) throw new DuplicateIdempotencyKeyError(record.key);
}

/** Records the outcome of the append in the claimed row. */
export async function completeIdempotencyKey(pool: Pool, key: string, result: { version: number; position: Position }): Promise<void> {
  await query(pool, "UPDATE idempotency_keys SET version = $2, position = $3 WHERE key = $1", [
    key,
    result.version,
    encodePosition(result.position),
  ]);
}

/** Deletes a claim whose append did not happen (only a claim still in flight, never a completed one). */
export async function releaseIdempotencyKey(pool: Pool, key: string): Promise<void> {
  await query(pool, "DELETE FROM idempotency_keys WHERE key = $1 AND version IS NULL", [key]);
}
