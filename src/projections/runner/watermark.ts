/**
 * Low watermarks: the position up to which every partition of a projection version has
 * applied the log, stored in `projections` and announced with NOTIFY on CHANNEL.
 */
import type { Pool } from "../../db/pool.ts";
import { encodePosition, parsePosition, START, type Position } from "../../shared/position.ts";

export const PROGRESS_CHANNEL = "projection_progress";
/** Channel announcing a switch of serving version: payload `<name> <version>`. */
export const ACTIVE_CHANNEL = "projection_active";

/** Reads a projection version's low watermark (START when none is recorded). */
export async function readWatermark(pool: Pool, name: string, version: number): Promise<Position> {
  const result = await pool.query<{ position: string }>("SELECT position FROM projections WHERE name = $1 AND version = $2", [name, version]);
  return parsePosition(result.rows[0]?.position ?? "0-0") ?? START;
}

/** Reads a projection version's low watermark and the number of log events consumed up to it. */
export async function readProgress(pool: Pool, name: string, version: number): Promise<{ position: Position; consumed: number }> {
  const result = await pool.query<{ position: string; events_done: string }>("SELECT position, events_done FROM projections WHERE name = $1 AND version = $2", [name, version]);
  const row = result.rows[0];
  return { position: parsePosition(row?.position ?? "0-0") ?? START, consumed: Number(row?.events_done ?? 0) };
}

/** Stores a new low watermark (and, when given, the events consumed up to it) and notifies listeners (`<name> <version> <position>`). */
export async function writeWatermark(pool: Pool, name: string, version: number, position: Position, consumed?: number): Promise<void> {
  const wire = encodePosition(position);
  await pool.query({
    // Prepared once per connection (a live service writes several watermarks a second).
    name: "watermark_write",
    // Asynchronous commit (transaction-local): a watermark lost in a crash is recomputed
    // from the partition checkpoints' work being redone; nothing waits for its WAL flush.
    text: `WITH async AS (SELECT set_config('synchronous_commit', 'off', true)),
          updated AS (UPDATE projections SET position = $3, events_done = COALESCE($5::bigint, events_done), updated_at = now() WHERE name = $1 AND version = $2)
     SELECT pg_notify($4, $1 || ' ' || $2::text || ' ' || $3) FROM async`,
    values: [name, version, wire, PROGRESS_CHANNEL, consumed ?? null],
  });
}

/** Parses a progress notification payload. */
export function parseProgress(payload: string): { name: string; version: number; position: Position } | null {
  const [name, version, wire] = payload.split(" ");
  const position = wire ? parsePosition(wire) : null;
  if (!name || !version || !position) return null;
  return { name, version: Number(version), position };
}
