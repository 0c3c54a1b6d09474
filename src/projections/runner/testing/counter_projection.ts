/**
 * A small projection for the runner's tests: `Counted` events add to a counter row and to
 * its group row (so one event can touch rows in two partitions), `Removed` deletes a
 * counter, `Poisoned` throws in reduce, `KillsWorker` counts like `Counted` but first ends
 * the worker thread applying it when its marker file exists (deleting it: once; not pure,
 * for the worker-death test only). Views: each counter's total as a string key and a
 * group leaderboard sorted set with absolute scores.
 */
import { existsSync, unlinkSync } from "node:fs";
import type { RecordedEvent } from "../../../event_store/types.ts";
import { viewKey } from "../../../shared/read_models.ts";
import { defineProjection, type Row, type RowRef, type ViewOp } from "../../define.ts";

export const COUNTER_EVENTS = ["Counted", "Removed", "Poisoned", "KillsWorker"] as const;

/** The data of a counter event. */
export function counterData(event: RecordedEvent): { key: string; group: string; amount: number } {
  return event.data as { key: string; group: string; amount: number };
}

/** The test projection. */
export const counterProjection = defineProjection({
  name: "test_counter",
  version: 1,
  partitions: 8,
  handles: new Set(COUNTER_EVENTS),
  tables: [
    {
      table: "counters",
      key: "key",
      columns: [
        { name: "key", type: "text" },
        { name: "grp", type: "text" },
        { name: "total", type: "bigint" },
        { name: "count", type: "int" },
        { name: "last_at", type: "timestamptz" },
        { name: "body", type: "bytea" },
      ],
      indexes: (physical) => [`CREATE INDEX ${physical}_grp ON ${physical} (grp, total DESC)`],
    },
    {
      table: "groups",
      key: "key",
      columns: [
        { name: "key", type: "text" },
        { name: "total", type: "bigint" },
      ],
      indexes: () => [],
    },
  ],
  touches(event: RecordedEvent): RowRef[] {
    const data = counterData(event);
    if (event.type === "Removed" || event.type === "Poisoned") return [{ table: "counters", key: data.key }];
    return [
      { table: "counters", key: data.key },
      { table: "groups", key: data.group },
    ];
  },
  reduce(ref: RowRef, row: Row | undefined, event: RecordedEvent): Row | undefined {
    const data = counterData(event);
    if (event.type === "Poisoned") throw new Error(`poisoned event for ${data.key}`);
    const marker = (event.data as { marker?: string }).marker;
    if (event.type === "KillsWorker" && marker !== undefined && existsSync(marker)) {
      unlinkSync(marker);
      process.exit(1); // in a worker thread: ends the thread, not the process
    }
    if (ref.table === "groups") return { key: ref.key, total: Number(row?.["total"] ?? 0) + data.amount };
    if (event.type === "Removed") return undefined;
    return {
      key: ref.key,
      grp: data.group,
      total: Number(row?.["total"] ?? 0) + data.amount,
      count: Number(row?.["count"] ?? 0) + 1,
      last_at: event.metadata.occurredAt,
      body: null,
    };
  },
  finalize(table: string, row: Row): Row {
    if (table !== "counters") return row;
    return { ...row, body: Buffer.from(JSON.stringify({ key: row["key"], total: row["total"] })) };
  },
  views(table: string, key: string, row: Row | undefined, previous: Row | undefined, version: number): ViewOp[] {
    if (table === "groups") {
      return row
        ? [{ op: "zadd", key: viewKey("test_counter", version, "groups"), score: Number(row["total"]), member: key }]
        : [{ op: "zrem", key: viewKey("test_counter", version, "groups"), member: key }];
    }
    const ops: ViewOp[] = [];
    if (previous && previous["grp"] !== row?.["grp"]) ops.push({ op: "zrem", key: viewKey("test_counter", version, "group", String(previous["grp"])), member: key });
    if (!row) return [...ops, { op: "del", key: viewKey("test_counter", version, "counter", key) }];
    ops.push({ op: "set", key: viewKey("test_counter", version, "counter", key), value: row["body"] as Buffer });
    ops.push({ op: "zadd", key: viewKey("test_counter", version, "group", String(row["grp"])), score: Number(row["total"]), member: key });
    return ops;
  },
});

/** Module reference for the runner (workers import the projection by it). */
export const counterModule = { name: "test_counter", url: new URL("./counter_projection.ts", import.meta.url).href, exportName: "counterProjection" };
