/**
 * Low watermarks: the position up to which every partition of a projection version has
 * applied the log, stored in `projections` and announced with NOTIFY on CHANNEL.
 */
import type { Pool } from "../../db/pool.ts";
import { encodePosition, parsePosition, START, type Position } from "../../shared/position.ts";

export const PROGRESS_CHANNEL = "projection_progress";

/** Reads a projection version's low watermark (START when none is recorded). */
export async function readWatermark(pool: Pool, name: string, version: number): Promise<Position> {
  const result = await pool.query<{ position: string }>("SELECT position FROM projections WHERE name = $1 AND version = $2", [name, version]);
  return parsePosition(result.rows[0]?.position ?? "0-0") ?? START;
}

/** Stores a new low watermark and notifies listeners (`<name> <version> <position>`). */
export async function writeWatermark(pool: Pool, name: string, version: number, position: Position): Promise<void> {
  const wire = encodePosition(position);
  await pool.query(
    `WITH updated AS (UPDATE projections SET position = $3, updated_at = now() WHERE name = $1 AND version = $2)
     SELECT pg_notify($4, $1 || ' ' || $2::text || ' ' || $3)`,
    [name, version, wire, PROGRESS_CHANNEL],
  );
}

/** Parses a progress notification payload. */
export function parseProgress(payload: string): { name: string; version: number; position: Position } | null {
  const [name, version, wire] = payload.split(" ");
  const position = wire ? parsePosition(wire) : null;
  if (!name || !version || !position) return null;
  return { name, version: Number(version), position };
}
