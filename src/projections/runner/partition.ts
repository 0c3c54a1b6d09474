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
  // Over the UTF-16 code units of `${table}\u0000${key}`, without building that string.
  let hash = 0x811c9dc5;
  const { table, key } = ref;
  for (let i = 0; i < table.length; i++) hash = Math.imul(hash ^ table.charCodeAt(i), 0x01000193);
  hash = Math.imul(hash, 0x01000193); // ^ 0
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
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

/** One task's share of a batch: the partitions it owns and their events (batch order, each event once). */
export interface PartitionGroup {
  owned: number[];
  events: RecordedEvent[];
}

/**
 * Splits a batch into tasks by partition: partition p goes to group p mod g, where g is the
 * largest power of two with about `eventsPerTask` events per group (at most the partition
 * count). A live batch of a few events is one task, so it costs one transaction however
 * many partitions it touches; a bulk batch keeps its partitions applying in parallel.
 */
export function partitionGroups(definition: ProjectionDefinition, batch: readonly RecordedEvent[], eventsPerTask: number): PartitionGroup[] {
  const partitions = partitionCount(definition);
  let groups = 1;
  while (groups * 2 <= partitions && groups * eventsPerTask < batch.length) groups *= 2;
  const result = new Map<number, PartitionGroup & { last: RecordedEvent | null }>();
  for (const event of batch) {
    if (!definition.handles.has(event.type)) continue;
    for (const ref of definition.touches(event)) {
      const partition = partitionOf(ref, partitions);
      const index = partition % groups;
      let group = result.get(index);
      if (!group) {
        group = { owned: [], events: [], last: null };
        result.set(index, group);
      }
      if (!group.owned.includes(partition)) group.owned.push(partition);
      if (group.last !== event) {
        group.last = event;
        group.events.push(event);
      }
    }
  }
  return [...result.values()].map(({ owned, events }) => ({ owned: owned.sort((a, b) => a - b), events }));
}
