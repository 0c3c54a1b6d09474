/**
 * Maps the EventStoreDB client's errors to ours: a version conflict becomes our
 * WrongExpectedVersionError (so HTTP answers 409/412 exactly as with PostgreSQL), and
 * anything that means "the server cannot be reached right now" becomes StoreUnavailableError (503).
 */
import {
  CancelledError,
  DeadlineExceededError,
  NotLeaderError,
  TimeoutError,
  UnavailableError,
  WrongExpectedVersionError as EsdbWrongExpectedVersionError,
  convertToCommandError,
} from "@eventstore/db-client";
import { StoreUnavailableError, WrongExpectedVersionError } from "../shared/errors.ts";
import { toVersion } from "./eventstoredb_codec.ts";
import type { ExpectedVersion } from "./types.ts";

/** The store name used in StoreUnavailableError messages. */
export const STORE_NAME = "EventStoreDB";

/** Converts a raw gRPC error to the client's typed error; leaves everything else as it is. */
function normalize(error: unknown): unknown {
  return error instanceof Error ? convertToCommandError(error) : error;
}

/**
 * True when the error means the server could not be reached or did not answer in time
 * (unavailable, deadline, aborted, not the leader, cancelled by the server, discovery failed).
 */
export function isUnavailable(error: unknown): boolean {
  const typed = normalize(error);
  if (
    typed instanceof UnavailableError ||
    typed instanceof DeadlineExceededError ||
    typed instanceof TimeoutError ||
    typed instanceof NotLeaderError ||
    typed instanceof CancelledError
  ) {
    return true;
  }
  return typed instanceof Error && /Failed to discover|No connection established|ECONNREFUSED/.test(typed.message);
}

/**
 * Maps any error from the client to the error the EventStore interface promises:
 * WrongExpectedVersionError, StoreUnavailableError, or the original error.
 */
export function mapEventStoreDbError(error: unknown, context: { streamId?: string; expected?: ExpectedVersion } = {}): unknown {
  if (error instanceof WrongExpectedVersionError || error instanceof StoreUnavailableError) return error;
  const typed = normalize(error);
  if (typed instanceof EsdbWrongExpectedVersionError) {
    const expected = context.expected === undefined ? String(typed.expectedVersion) : String(context.expected);
    return new WrongExpectedVersionError(context.streamId ?? typed.streamName, expected, toVersion(typed.actualVersion));
  }
  if (isUnavailable(typed)) return new StoreUnavailableError(STORE_NAME, { cause: typed });
  return typed;
}
