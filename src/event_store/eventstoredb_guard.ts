/**
 * Append guards on EventStoreDB. EventStoreDB checks the expected revision of the stream
 * it appends to, but cannot make an append depend on other streams. So the guard is
 * emulated: the guard streams' current versions are read (one backwards read of the last
 * event each, in parallel) just before the append. This is not atomic: a guard stream
 * that changes between that read and the append is not seen. That matches what order
 * placement had before guards (read the products, then append), only with a shorter gap.
 */
import { BACKWARDS, END, StreamNotFoundError } from "@eventstore/db-client";
import type { EventStoreDBClient } from "@eventstore/db-client";
import { StaleGuardError } from "../shared/errors.ts";
import { mapEventStoreDbError } from "./eventstoredb_errors.ts";
import type { StreamGuard } from "./types.ts";

/** The stream's event count (0 when it does not exist), from a read of its last event. */
async function currentVersion(client: EventStoreDBClient, streamId: string): Promise<number> {
  try {
    for await (const resolved of client.readStream(streamId, { direction: BACKWARDS, fromRevision: END, maxCount: 1 })) {
      if (resolved.event !== undefined) return Number(resolved.event.revision + 1n);
    }
    return 0;
  } catch (error) {
    if (error instanceof StreamNotFoundError) return 0;
    throw mapEventStoreDbError(error, { streamId });
  }
}

/** Throws StaleGuardError (naming every stale stream) unless each guard stream is at its version. */
export async function checkGuard(client: EventStoreDBClient, streamId: string, guard: readonly StreamGuard[]): Promise<void> {
  const versions = await Promise.all(guard.map((g) => currentVersion(client, g.streamId)));
  const stale = guard.filter((g, i) => versions[i] !== g.version).map((g) => g.streamId).sort();
  if (stale.length > 0) throw new StaleGuardError(streamId, stale);
}
