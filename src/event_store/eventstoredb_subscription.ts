/**
 * subscribeAll for EventStoreDB: one catch-up subscription to $all (server-side filter
 * excluding system events), pulled with `for await` so the next batch is read only when the
 * consumer asks for it (gRPC flow control does the rest), grouped into batches.
 */
import { START, excludeSystemEvents } from "@eventstore/db-client";
import type { AllStreamResolvedEvent, EventStoreDBClient } from "@eventstore/db-client";
import { comparePositions } from "../shared/position.ts";
import { StoreUnavailableError } from "../shared/errors.ts";
import { fromResolvedEvent, isSystemEvent, toEsdbPosition } from "./eventstoredb_codec.ts";
import { STORE_NAME, mapEventStoreDbError } from "./eventstoredb_errors.ts";
import type { RecordedEvent, SubscribeOptions } from "./types.ts";

function ignore(): void {}

/**
 * Yields batches of events strictly after `options.after`: a batch is handed over when it
 * holds `batchSize` events or when nothing more has arrived (the subscription went quiet).
 * Ends, and unsubscribes, when the signal aborts or the consumer stops; a subscription the
 * server ends throws StoreUnavailableError, so the caller resubscribes from its checkpoint.
 */
export async function* subscribeAllBatches(client: EventStoreDBClient, options: SubscribeOptions): AsyncGenerator<RecordedEvent[]> {
  const { after, signal } = options;
  const batchSize = Math.max(1, options.batchSize);
  if (signal.aborted) return;
  const subscription = client.subscribeToAll(
    { fromPosition: after === null ? START : toEsdbPosition(after), filter: excludeSystemEvents() },
    { highWaterMark: batchSize },
  );
  // A late error after we stopped (the iterator no longer listens) must not crash the process.
  subscription.on("error", ignore);
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    void subscription.unsubscribe().catch(ignore);
    subscription.destroy();
  };
  signal.addEventListener("abort", stop, { once: true });
  let batch: RecordedEvent[] = [];
  try {
    for await (const resolved of subscription as AsyncIterable<AllStreamResolvedEvent>) {
      if (signal.aborted) return;
      if (!isSystemEvent(resolved)) {
        const event = fromResolvedEvent(resolved);
        // The server starts after `after`; the check keeps "strictly after" even if it did not.
        if (after === null || comparePositions(event.position, after) > 0) batch.push(event);
      }
      // The client's subscription is a Transform: nothing buffered on either side means quiet.
      const unread = (subscription as unknown as { writableLength?: number }).writableLength ?? 0;
      const quiet = subscription.readableLength === 0 && unread === 0;
      if (batch.length >= batchSize || (batch.length > 0 && quiet)) {
        const ready = batch;
        batch = [];
        yield ready;
        if (signal.aborted) return;
      }
    }
    if (signal.aborted) return;
    if (batch.length > 0) yield batch;
    throw new StoreUnavailableError(STORE_NAME, { cause: new Error("The $all subscription was ended by the server") });
  } catch (error) {
    if (signal.aborted) return;
    throw mapEventStoreDbError(error);
  } finally {
    signal.removeEventListener("abort", stop);
    stop();
  }
}
