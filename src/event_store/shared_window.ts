/**
 * A process-wide window over the global log shared by the store's subscribers (one per
 * projection), so each event is read from PostgreSQL and decoded once however many
 * projections follow the log, as long as they move together.
 *
 * Subscribers inside the window are served from it. The one at its end extends it with one
 * read (concurrent requests share that read). The window holds at most `capacity` events:
 * it drops what every subscriber inside it has passed, and a subscriber that runs ahead
 * waits for the slowest one inside the window (so three projections catching up read the
 * log once, not three times); if that one makes no progress for `maxWaitMs` (paused,
 * stalled on an outage), the window drops it and moves on, and it reads from the store by
 * itself until it catches up with the window again. Subscribers behind the window (a
 * replay from position 0 while the others follow the head) read by themselves.
 *
 * Sound because of the store's read rule: nothing can ever appear below a position already
 * read, so a contiguous run of events returned by reads is exactly the log over that range.
 */
import { comparePositions, type Position } from "../shared/position.ts";
import type { RecordedEvent } from "./types.ts";

/** A subscriber's place: the position of the last event it was given (null: the start of the log). */
export interface WindowReader {
  position: Position | null | undefined;
}

/**
 * A read's events. `end`: fewer than asked, so the read reached the end of what was visible;
 * then `hidden` tells whether committed events after them exist that readers cannot see yet.
 */
export interface ReadResult {
  events: RecordedEvent[];
  hidden: boolean;
  end?: boolean;
}

export type ReadAfter = (after: Position | null, limit: number) => Promise<ReadResult>;

interface Extension {
  result: Promise<ReadResult>;
  /** The wake-up epoch of the reader that started it: it sees every append woken at or before that epoch. */
  epoch: number;
}

export class SharedWindow {
  #events: RecordedEvent[] = [];
  /** The position the first event directly follows (null: the start of the log); undefined: no window yet. */
  #from: Position | null | undefined = undefined;
  #capacity: number;
  #maxWaitMs: number;
  #read: ReadAfter;
  #readers = new Set<WindowReader>();
  #extending: Extension | null = null;
  /** The epoch of the last read that reached the end of the visible log at the window's end with nothing hidden (null: unknown). */
  #endEpoch: number | null = null;
  #waiters: (() => void)[] = [];

  constructor(options: { capacity: number; read: ReadAfter; maxWaitMs?: number }) {
    this.#capacity = options.capacity;
    this.#read = options.read;
    this.#maxWaitMs = options.maxWaitMs ?? 3000;
  }

  /** Events held now (for tests and metrics). */
  get size(): number {
    return this.#events.length;
  }

  /** Registers a subscriber; call leave() when it stops. */
  join(): WindowReader {
    const reader: WindowReader = { position: undefined };
    this.#readers.add(reader);
    return reader;
  }

  leave(reader: WindowReader): void {
    this.#readers.delete(reader);
    this.#wake();
  }

  /** Up to `limit` events directly after `after` if the window holds them; null otherwise. Never reads. */
  peek(after: Position | null, limit: number): RecordedEvent[] | null {
    const index = this.#indexAfter(after);
    if (index === null || index >= this.#events.length) return null;
    return this.#events.slice(index, index + limit);
  }

  /**
   * The next batch for a subscriber: up to `limit` events after `after` (empty: none visible
   * yet). `epoch` is the caller's wake-up counter read before it asked (every append it was
   * woken for had committed by then): a read at the end that started at that epoch or later
   * and found nothing answers this caller too, so subscribers woken together share one empty
   * read instead of each making its own. Without an epoch nothing empty is shared.
   */
  async next(reader: WindowReader, after: Position | null, limit: number, epoch = Number.POSITIVE_INFINITY): Promise<ReadResult> {
    reader.position = after;
    this.#wake();
    for (;;) {
      const cached = this.peek(after, limit);
      if (cached) return { events: cached, hidden: false };
      if (!this.#atEnd(after)) {
        // Outside the window: read alone while others use it, else start it here.
        if (this.#othersInside(reader)) return this.#read(after, limit);
        this.#events = [];
        this.#from = after;
        this.#endEpoch = null;
      }
      // A read at or after this caller's epoch found the log ending here: nothing new for it.
      if (this.#endEpoch !== null && this.#endEpoch >= epoch) return { events: [], hidden: false };
      if (this.#extending) {
        const extension = this.#extending;
        const shared = await extension.result.catch(() => null);
        if (shared !== null && shared.events.length === 0 && extension.epoch >= epoch && this.#atEnd(after)) return shared;
        continue;
      }
      if (this.#events.length + limit > this.#capacity) {
        this.#trim();
        if (this.#events.length + limit > this.#capacity) {
          if (await this.#waitForProgress()) continue;
          this.#drop(this.#events.length + limit - this.#capacity);
        }
      }
      const last = this.#events.at(-1)?.position ?? this.#from ?? null;
      const extension: Extension = { result: this.#read(last, limit), epoch: Number.isFinite(epoch) ? epoch : Number.NEGATIVE_INFINITY };
      this.#extending = extension;
      let read: ReadResult;
      try {
        read = await extension.result;
      } finally {
        this.#extending = null;
      }
      if (!this.#same(last, this.#events.at(-1)?.position ?? this.#from ?? null)) {
        this.#wake();
        continue;
      }
      this.#events.push(...read.events);
      this.#endEpoch = read.end === true && !read.hidden && Number.isFinite(extension.epoch) ? extension.epoch : null;
      if (read.events.length === 0) return read;
      this.#wake();
    }
  }

  /** Index of the event directly after `after` inside the window, or null when the window does not cover `after`. */
  #indexAfter(after: Position | null): number | null {
    if (this.#from === undefined) return null;
    if (this.#same(after, this.#from)) return 0;
    if (after === null) return null;
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
    return null;
  }

  #atEnd(after: Position | null): boolean {
    return this.#from !== undefined && this.#indexAfter(after) === this.#events.length;
  }

  #othersInside(self: WindowReader): boolean {
    for (const reader of this.#readers) {
      if (reader !== self && reader.position !== undefined && this.#indexAfter(reader.position) !== null) return true;
    }
    return false;
  }

  /** Drops the events every subscriber inside the window has passed. */
  #trim(): void {
    let keepFrom = this.#events.length;
    for (const reader of this.#readers) {
      if (reader.position === undefined) continue;
      const index = this.#indexAfter(reader.position);
      if (index !== null && index < keepFrom) keepFrom = index;
    }
    this.#drop(keepFrom);
  }

  #drop(count: number): void {
    if (count <= 0) return;
    const dropped = Math.min(count, this.#events.length);
    this.#from = this.#events[dropped - 1]!.position;
    this.#events = this.#events.slice(dropped);
  }

  /** Waits until some subscriber moves (true) or maxWaitMs passed without that (false). */
  #waitForProgress(): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((waiter) => waiter !== woken);
        resolve(false);
      }, this.#maxWaitMs);
      const woken = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#waiters.push(woken);
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }

  #same(a: Position | null | undefined, b: Position | null | undefined): boolean {
    if (a === null || b === null || a === undefined || b === undefined) return a === b;
    return comparePositions(a, b) === 0;
  }
}
