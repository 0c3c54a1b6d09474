/**
 * Parking: an event that keeps failing for a partition is recorded with its error in
 * `projection_parked`, and the partition's checkpoint moves past it, in one transaction.
 */
import { inTransaction, type Pool } from "../../db/pool.ts";
import type { RecordedEvent } from "../../event_store/types.ts";
import { comparePositions, encodePosition } from "../../shared/position.ts";
import { lockCheckpoint, setCheckpoint } from "./apply_partition.ts";

/** Parks one event for one partition unless the partition is already past it. */
export async function parkEvent(
  pool: Pool,
  target: { projection: string; version: number; partition: number },
  event: RecordedEvent,
  error: string,
): Promise<void> {
  return inTransaction(pool, async (client) => {
    const checkpoint = await lockCheckpoint(client, target.projection, target.version, target.partition);
    if (comparePositions(event.position, checkpoint) > 0) {
      await client.query(
        `INSERT INTO projection_parked (projection, version, partition, position, event_id, stream_id, stream_version, event_type, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
        [target.projection, target.version, target.partition, encodePosition(event.position), event.eventId, event.streamId, event.streamVersion, event.type, error.slice(0, 2000)],
      );
      await setCheckpoint(client, target.projection, target.version, target.partition, event.position);
    }
  });
}

/** Counts parked events per projection version. */
export async function parkedCount(pool: Pool, projection: string, version: number): Promise<number> {
  const result = await pool.query<{ count: string }>("SELECT count(*) AS count FROM projection_parked WHERE projection = $1 AND version = $2", [projection, version]);
  return Number(result.rows[0]?.count ?? 0);
}
