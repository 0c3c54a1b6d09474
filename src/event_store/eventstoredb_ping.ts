/**
 * ping for EventStoreDB: read one event from $all within a deadline. The client gives
 * reads an infinite gRPC deadline, so the deadline is ours: on expiry the read is cancelled.
 * A server that does not answer fails with one line naming the address and the reason.
 */
import { START } from "@eventstore/db-client";
import type { EventStoreDBClient } from "@eventstore/db-client";
import { StoreUnavailableError } from "../shared/errors.ts";
import { STORE_NAME, isUnavailable } from "./eventstoredb_errors.ts";

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = (text.split("\n")[0] ?? "").replace(/\.?\s*Resolution note:.*$/, "").trim();
  return line || "unknown error";
}

/** Resolves when the server answers a one-event read of $all within `timeoutMs`; rejects with a one-line message otherwise. */
export async function pingEventStoreDb(client: EventStoreDBClient, options: { target: string; timeoutMs: number }): Promise<void> {
  const { target, timeoutMs } = options;
  const read = client.readAll({ fromPosition: START, maxCount: 1 });
  read.on("error", () => undefined);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  const drained = (async () => {
    for await (const _ of read) {
      // one event at most; reading it proves the server answers
    }
  })();
  drained.catch(() => undefined);
  try {
    await Promise.race([drained, expired]);
  } catch (error) {
    void read.cancel().catch(() => undefined);
    const line = `${STORE_NAME} at ${target} did not answer a ping: ${firstLine(error)}`;
    const timedOut = error instanceof Error && error.message.startsWith("no answer within");
    if (!timedOut && !isUnavailable(error)) throw new Error(line, { cause: error });
    const failure = new StoreUnavailableError(STORE_NAME, { cause: error });
    failure.message = line;
    throw failure;
  } finally {
    clearTimeout(timer);
  }
}
