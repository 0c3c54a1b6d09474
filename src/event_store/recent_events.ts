/**
 * A process-wide window of the most recently read stretch of the global log, so several
 * readers at nearby positions (one per projection) read and decode each event once.
 *
 * Sound because of the store's read rule: nothing can ever appear below a position already
 * read, so a contiguous run of events returned by readAll is exactly the log over that range.
 */
import { comparePositions, type Position } from "../shared/position.ts";
import type { RecordedEvent } from "./types.ts";

export class RecentEvents {
  #events: RecordedEvent[] = [];
  /** The position the first cached event follows directly (null: the start of the log). */
  #from: Position | null = null;
  #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Up to `limit` cached events directly after `after`, or null when the window does not cover `after`. */
  read(after: Position | null, limit: number): RecordedEvent[] | null {
    const events = this.#events;
    if (events.length === 0) return null;
    let index: number;
    if (this.#same(after, this.#from)) index = 0;
    else {
      if (after === null || this.#from !== null && comparePositions(after, this.#from) < 0) return null;
      index = this.#indexAfter(after);
      if (index < 0) return null;
    }
    if (index >= events.length) return null;
    return events.slice(index, index + limit);
  }

  /** Records what a readAll(after) returned: extends the window when contiguous, else starts a new one. */
  remember(after: Position | null, batch: readonly RecordedEvent[]): void {
    if (batch.length === 0) return;
    const last = this.#events.at(-1);
    const contiguous = last ? this.#same(after, last.position) : false;
    if (!contiguous) {
      this.#events = [...batch];
      this.#from = after;
    } else {
      this.#events.push(...batch);
    }
    const excess = this.#events.length - this.#capacity;
    if (excess > 0) {
      this.#from = this.#events[excess - 1]!.position;
      this.#events = this.#events.slice(excess);
    }
  }

  #same(a: Position | null, b: Position | null): boolean {
    if (a === null || b === null) return a === b;
    return comparePositions(a, b) === 0;
  }

  /** Index of the event directly after the cached event at `after`; -1 when `after` is not a cached position. */
  #indexAfter(after: Position): number {
    const events = this.#events;
    let low = 0;
    let high = events.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const order = comparePositions(events[middle]!.position, after);
      if (order === 0) return middle + 1;
      if (order < 0) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }
}
