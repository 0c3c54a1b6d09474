import {
  AccessDeniedError,
  CancelledError,
  DeadlineExceededError,
  NotLeaderError,
  StreamNotFoundError,
  TimeoutError,
  UnavailableError,
  WrongExpectedVersionError as EsdbWrongExpectedVersionError,
} from "@eventstore/db-client";
import type { ServiceError } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { StoreUnavailableError, WrongExpectedVersionError } from "../shared/errors.ts";
import { isUnavailable, mapEventStoreDbError } from "./eventstoredb_errors.ts";

/** A raw gRPC error as the transport raises it (before the client converts it). */
function serviceError(code: number, details: string, metadata: Record<string, string> = {}): ServiceError {
  const error = new Error(`${code} ${details}`) as Error & { code: number; details: string; metadata: { getMap(): Record<string, string> } };
  error.code = code;
  error.details = details;
  error.metadata = { getMap: () => metadata };
  return error as unknown as ServiceError;
}

describe("mapping the client's errors", () => {
  it("turns a version conflict into our WrongExpectedVersionError with event counts", () => {
    const conflict = new EsdbWrongExpectedVersionError(undefined, { streamName: "order-1", expected: 2n, current: 4n });
    const mapped = mapEventStoreDbError(conflict, { streamId: "order-1", expected: 3 });
    expect(mapped).toBeInstanceOf(WrongExpectedVersionError);
    expect(mapped).toMatchObject({ streamId: "order-1", expected: "3", actual: 5 });
  });

  it("reports a missing stream as actual version 0", () => {
    const conflict = new EsdbWrongExpectedVersionError(undefined, { streamName: "order-2", expected: 0n, current: "no_stream" });
    expect(mapEventStoreDbError(conflict, { streamId: "order-2", expected: 1 })).toMatchObject({ streamId: "order-2", expected: "1", actual: 0 });
    expect(mapEventStoreDbError(conflict)).toMatchObject({ streamId: "order-2", expected: "0", actual: 0 });
  });

  it("maps a conflict raised by the server as a raw gRPC error", () => {
    const raw = serviceError(9, "wrong expected version", {
      exception: "wrong-expected-version",
      "stream-name": "order-3",
      "expected-version": "1",
      "actual-version": "6",
    });
    expect(mapEventStoreDbError(raw, { streamId: "order-3", expected: 2 })).toMatchObject({ streamId: "order-3", expected: "2", actual: 7 });
  });

  it("turns connection failures into StoreUnavailableError (503)", () => {
    const leader = serviceError(5, "not leader", { exception: "not-leader", "leader-endpoint-host": "node2", "leader-endpoint-port": "2113" });
    const failures: unknown[] = [
      new UnavailableError(),
      new DeadlineExceededError(),
      new TimeoutError(),
      new CancelledError(),
      new NotLeaderError(leader),
      serviceError(14, "No connection established"),
      serviceError(4, "Deadline exceeded"),
      new Error("Failed to discover after 10 attempts."),
    ];
    for (const failure of failures) {
      expect(isUnavailable(failure)).toBe(true);
      const mapped = mapEventStoreDbError(failure);
      expect(mapped).toBeInstanceOf(StoreUnavailableError);
      expect((mapped as StoreUnavailableError).status).toBe(503);
      expect((mapped as Error & { cause?: unknown }).cause).toBeDefined();
    }
  });

  it("leaves other errors as they are (typed by the client)", () => {
    const denied = new AccessDeniedError();
    expect(mapEventStoreDbError(denied)).toBe(denied);
    const missing = new StreamNotFoundError(undefined, "nope");
    expect(mapEventStoreDbError(missing)).toBe(missing);
    expect(isUnavailable(missing)).toBe(false);
    const plain = new TypeError("bug");
    expect(mapEventStoreDbError(plain)).toBe(plain);
    expect(mapEventStoreDbError(serviceError(16, "unauthenticated"))).toBeInstanceOf(AccessDeniedError);
  });

  it("passes our own errors through unchanged", () => {
    const ours = new WrongExpectedVersionError("s", "1", 2);
    expect(mapEventStoreDbError(ours)).toBe(ours);
  });
});
