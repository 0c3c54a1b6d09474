import { describe, expect, it } from "vitest";
import type { RecordedEvent } from "../../event_store/types.ts";
import { partitionBatch, partitionGroups, partitionOf } from "./partition.ts";
import { counterProjection } from "./testing/counter_projection.ts";

function counted(n: number, options: { keys: number; groups: number }): RecordedEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    eventId: crypto.randomUUID(),
    streamId: `counter-${i % options.keys}`,
    streamVersion: i,
    type: i % 17 === 16 ? "Ignored" : "Counted",
    data: { key: `k${i % options.keys}`, group: `g${i % options.groups}`, amount: 1 },
    metadata: { occurredAt: "2026-01-01T00:00:00.000Z", correlationId: "c", causationId: null },
    position: { commit: BigInt(i + 1), prepare: BigInt(i + 1) },
  }));
}

/** The events of the given partitions as partitionBatch splits them, merged in batch order. */
function merged(batch: readonly RecordedEvent[], owned: readonly number[]): RecordedEvent[] {
  const split = partitionBatch(counterProjection, batch);
  const wanted = new Set(owned.flatMap((partition) => split.get(partition) ?? []));
  return batch.filter((event) => wanted.has(event));
}

describe("partitionOf", () => {
  it("keeps the stored assignment: FNV-1a over `${table}\\u0000${key}` (checkpoints are per partition)", () => {
    // The hash as first written, over the joined string: a change of assignment would make
    // existing partition checkpoints skip or repeat events.
    const reference = (table: string, key: string, partitions: number): number => {
      let hash = 0x811c9dc5;
      const text = `${table}\u0000${key}`;
      for (let i = 0; i < text.length; i++) {
        hash ^= text.charCodeAt(i);
        hash = Math.imul(hash, 0x01000193);
      }
      return (hash >>> 0) % partitions;
    };
    const keys = ["", "a", crypto.randomUUID(), "2026-11-22|électronique|EUR", "日本|😀", ...Array.from({ length: 200 }, () => crypto.randomUUID())];
    for (const table of ["orders", "products", "daily_sales", ""]) {
      for (const key of keys) {
        for (const partitions of [1, 8, 16]) expect(partitionOf({ table, key }, partitions)).toBe(reference(table, key, partitions));
      }
    }
    // Pinned values of the released assignment.
    expect(partitionOf({ table: "orders", key: "7fa0adb2-9fdb-4354-80c5-e64b10a3fde1" }, 8)).toBe(6);
    expect(partitionOf({ table: "daily_sales", key: "2026-08-02|home|EUR" }, 8)).toBe(0);
  });
});

describe("partitionGroups", () => {
  it("makes a small batch one task over every partition it touches, each handled event once, in batch order", () => {
    const batch = counted(12, { keys: 12, groups: 5 });
    const groups = partitionGroups(counterProjection, batch, 1000);
    expect(groups).toHaveLength(1);
    const [group] = groups;
    expect(group!.owned).toEqual([...partitionBatch(counterProjection, batch).keys()].sort((a, b) => a - b));
    expect(group!.events).toEqual(batch.filter((event) => event.type === "Counted"));
  });

  it("splits a large batch into disjoint groups covering the same partitions and events as per-partition tasks", () => {
    const batch = counted(5000, { keys: 700, groups: 40 });
    const groups = partitionGroups(counterProjection, batch, 1000);
    expect(groups).toHaveLength(8);
    const owned = groups.flatMap((group) => group.owned).sort((a, b) => a - b);
    expect(owned).toEqual([...partitionBatch(counterProjection, batch).keys()].sort((a, b) => a - b));
    for (const group of groups) expect(group.events).toEqual(merged(batch, group.owned));
  });

  it("uses a power of two of groups, at most the partition count", () => {
    const batch = counted(2500, { keys: 700, groups: 40 });
    expect(partitionGroups(counterProjection, batch, 1000)).toHaveLength(4);
    expect(partitionGroups(counterProjection, batch, 100)).toHaveLength(8);
    expect(partitionGroups(counterProjection, batch, 5000)).toHaveLength(1);
    expect(partitionGroups(counterProjection, [], 1000)).toEqual([]);
  });
});
