/**
 * A second small projection for the runner's tests, beside test_counter over the same
 * `Counted` events: per group, the number of events and the sum of amounts, with a Redis
 * view per group. Used where two projections must run together (one-pass replays).
 */
import type { RecordedEvent } from "../../../event_store/types.ts";
import { viewKey } from "../../../shared/read_models.ts";
import { defineProjection, type Row, type RowRef, type ViewOp } from "../../define.ts";
import { counterData } from "./counter_projection.ts";

export const tallyProjection = defineProjection({
  name: "test_tally",
  version: 1,
  partitions: 4,
  handles: new Set(["Counted"]),
  tables: [
    {
      table: "tallies",
      key: "grp",
      columns: [
        { name: "grp", type: "text" },
        { name: "events", type: "int" },
        { name: "amount", type: "bigint" },
      ],
      indexes: () => [],
    },
  ],
  touches(event: RecordedEvent): RowRef[] {
    return [{ table: "tallies", key: counterData(event).group }];
  },
  reduce(ref: RowRef, row: Row | undefined, event: RecordedEvent): Row {
    return { grp: ref.key, events: Number(row?.["events"] ?? 0) + 1, amount: Number(row?.["amount"] ?? 0) + counterData(event).amount };
  },
  views(_table: string, key: string, row: Row | undefined, _previous: Row | undefined, version: number): ViewOp[] {
    const viewed = viewKey("test_tally", version, "grp", key);
    return row ? [{ op: "set", key: viewed, value: Buffer.from(`${row["events"]}:${row["amount"]}`) }] : [{ op: "del", key: viewed }];
  },
});

/** Module reference for the runner (workers import the projection by it). */
export const tallyModule = { name: "test_tally", url: new URL("./tally_projection.ts", import.meta.url).href, exportName: "tallyProjection" };
