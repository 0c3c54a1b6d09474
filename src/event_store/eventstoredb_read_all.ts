/**
 * Reading $all from EventStoreDB in our terms: strictly after a position, without system
 * events (types or streams starting with `$`), and the head as the last non-system event.
 */
import { BACKWARDS, END, START } from "@eventstore/db-client";
import type { EventStoreDBClient, ReadPosition } from "@eventstore/db-client";
import { comparePositions, type Position } from "../shared/position.ts";
import { fromEsdbPosition, fromResolvedEvent, isSystemEvent, toEsdbPosition } from "./eventstoredb_codec.ts";
import { mapEventStoreDbError } from "./eventstoredb_errors.ts";
import type { RecordedEvent } from "./types.ts";

const READ_PAGE = 100;

/**
 * Reads up to `limit` non-system events strictly after `after`, in log order. Pages past
 * runs of system events, so fewer than `limit` events means the end of the log was reached.
 */
export async function readAllAfter(client: EventStoreDBClient, after: Position | null, limit: number): Promise<RecordedEvent[]> {
  const found: RecordedEvent[] = [];
  let floor = after;
  while (found.length < limit) {
    // A read from a position includes the event at it (skipped below), hence +1.
    const pageSize = Math.max(limit - found.length, READ_PAGE) + 1;
    const from: ReadPosition = floor === null ? START : toEsdbPosition(floor);
    let seen = 0;
    let last: Position | null = null;
    try {
      for await (const resolved of client.readAll({ fromPosition: from, maxCount: pageSize })) {
        seen += 1;
        if (resolved.event === undefined) continue;
        last = fromEsdbPosition(resolved.event.position);
        if (floor !== null && comparePositions(last, floor) <= 0) continue;
        if (isSystemEvent(resolved) || found.length >= limit) continue;
        found.push(fromResolvedEvent(resolved));
      }
    } catch (error) {
      throw mapEventStoreDbError(error);
    }
    if (seen < pageSize || last === null) break;
    floor = last;
  }
  return found;
}

/** The position of the last non-system event in $all, or null when there is none. */
export async function readHeadPosition(client: EventStoreDBClient): Promise<Position | null> {
  let ceiling: Position | null = null;
  for (;;) {
    const read = client.readAll({ fromPosition: ceiling === null ? END : toEsdbPosition(ceiling), direction: BACKWARDS, maxCount: READ_PAGE });
    let seen = 0;
    let last: Position | null = null;
    try {
      for await (const resolved of read) {
        seen += 1;
        if (resolved.event === undefined) continue;
        last = fromEsdbPosition(resolved.event.position);
        if (ceiling !== null && comparePositions(last, ceiling) >= 0) continue;
        if (!isSystemEvent(resolved)) {
          void read.cancel().catch(() => undefined);
          return last;
        }
      }
    } catch (error) {
      throw mapEventStoreDbError(error);
    }
    if (seen < READ_PAGE || last === null) return null;
    ceiling = last;
  }
}
