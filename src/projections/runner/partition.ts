/**
 * Row partitioning: a row's partition is a stable hash of (table, key), so per row the
 * order of events holds while partitions apply in parallel.
 */
import type { RecordedEvent } from "../../event_store/types.ts";
import type { ProjectionDefinition, RowRef } from "../define.ts";

export const DEFAULT_PARTITIONS = 8;

/** The fixed partition count of a projection. */
export function partitionCount(definition: ProjectionDefinition): number {
  return definition.partitions ?? DEFAULT_PARTITIONS;
}

/** Stable partition of a row (FNV-1a over table and key). */
export function partitionOf(ref: RowRef, partitions: number): number {
  let hash = 0x811c9dc5;
  const text = `${ref.table}\u0000${ref.key}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}

/**
 * Splits a batch into per-partition event lists (batch order kept). Events the projection
 * does not handle, or that touch no rows, go nowhere; an event touching rows in several
 * partitions goes to each of them.
 */
export function partitionBatch(definition: ProjectionDefinition, batch: readonly RecordedEvent[]): Map<number, RecordedEvent[]> {
  const partitions = partitionCount(definition);
  const result = new Map<number, RecordedEvent[]>();
  for (const event of batch) {
    if (!definition.handles.has(event.type)) continue;
    const targets = new Set<number>();
    for (const ref of definition.touches(event)) targets.add(partitionOf(ref, partitions));
    for (const target of targets) {
      const list = result.get(target);
      if (list) list.push(event);
      else result.set(target, [event]);
    }
  }
  return result;
}
