/**
 * How a projection worker thread waits for its Redis connection before its first tasks.
 * Without a wait, the first tasks of a fresh thread found Redis still connecting, skipped
 * their views and marked them all dirty: a full restore of every view (the loop paused
 * meanwhile) on each start, and views a second or more behind their rows until it ran.
 * Later tasks never wait: while Redis is down they skip views at once and the views are
 * restored when it returns.
 *
 * The wait is counted in turns of the thread's event loop (`steps` sleeps of `stepMs`), not
 * by one timer: a thread started while the cores are busy (at its niceness) can be off the CPU
 * for longer than the whole wait, and a single timer then fired in the same loop turn as the
 * connection's own events, before them (timers run first). Its first tasks found Redis
 * "connect"ing 60-100 ms before "ready" and skipped their views: a service that had just
 * caught up on a 1M-event log restored all 384,000 order views under load, in about one run
 * of three. Between two steps the loop handles the connection's I/O. A refused connection
 * ends the wait at once.
 */
export const FIRST_CONNECT_STEPS = 20;
export const FIRST_CONNECT_STEP_MS = 100;

/** A connection being made (the worker's LiveViews): ready once open; refused once an attempt failed. */
export interface Connecting {
  readonly ready: boolean;
  readonly refused: boolean;
}

/** Settles when the connection is ready or refused, or after `steps` turns of the loop. */
export function firstConnection(connection: Connecting, steps = FIRST_CONNECT_STEPS, stepMs = FIRST_CONNECT_STEP_MS): Promise<void> {
  return (async () => {
    for (let step = 0; step < steps && !connection.ready && !connection.refused; step++) {
      await new Promise((resolve) => setTimeout(resolve, stepMs));
    }
  })();
}
