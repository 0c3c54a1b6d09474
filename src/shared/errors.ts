/**
 * Errors that carry an HTTP meaning. Domain and store code throw these; one middleware
 * turns them into problem+json. Anything else becomes a 500 with no internals.
 */

/** One schema issue with its full dotted path (`lines.2.quantity`). */
export interface Issue {
  path: string;
  message: string;
}

/** Base class for errors that map to a problem+json answer. */
export class AppError extends Error {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  constructor(options: { status: number; type: string; title: string; detail?: string }) {
    super(options.detail ?? options.title);
    this.status = options.status;
    this.type = options.type;
    this.title = options.title;
  }
}

/** 400: the input fails its schema; lists every issue. */
export class ValidationError extends AppError {
  readonly issues: Issue[];
  constructor(issues: Issue[], detail = "The request does not match its schema") {
    super({ status: 400, type: "validation", title: "Invalid request", detail });
    this.issues = issues;
  }
}

/** 401: no or unknown bearer token. */
export class UnauthorizedError extends AppError {
  constructor(detail = "A valid bearer token is required") {
    super({ status: 401, type: "unauthorized", title: "Unauthorized", detail });
  }
}

/** 403: the token lacks the scope. */
export class ForbiddenError extends AppError {
  constructor(detail = "The token lacks the required scope") {
    super({ status: 403, type: "forbidden", title: "Forbidden", detail });
  }
}

/** 404: the named resource does not exist. */
export class NotFoundError extends AppError {
  constructor(detail = "Not found") {
    super({ status: 404, type: "not_found", title: "Not found", detail });
  }
}

/** 409: not allowed in the current state, duplicate create, or unresolvable concurrent write. */
export class ConflictError extends AppError {
  constructor(detail: string) {
    super({ status: 409, type: "conflict", title: "Conflict", detail });
  }
}

/** 412: If-Match does not match the current version. */
export class PreconditionError extends AppError {
  constructor(detail: string) {
    super({ status: 412, type: "precondition_failed", title: "Precondition failed", detail });
  }
}

/** 413: the body is larger than allowed. */
export class PayloadTooLargeError extends AppError {
  constructor(detail: string) {
    super({ status: 413, type: "payload_too_large", title: "Payload too large", detail });
  }
}

/** 415: the body is not JSON. */
export class UnsupportedMediaTypeError extends AppError {
  constructor(detail = "Send the body as application/json") {
    super({ status: 415, type: "unsupported_media_type", title: "Unsupported media type", detail });
  }
}

/** 422: well-formed but does not fit (unknown product, amount mismatch, ...). */
export class UnprocessableError extends AppError {
  constructor(detail: string) {
    super({ status: 422, type: "unprocessable", title: "Unprocessable", detail });
  }
}

/** 503: a store is down or a wait timed out; answered with Retry-After. */
export class UnavailableError extends AppError {
  readonly retryAfterSeconds: number;
  constructor(detail = "A backing store is unavailable", retryAfterSeconds = 1) {
    super({ status: 503, type: "unavailable", title: "Service unavailable", detail });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * Raised by an event store when the stream's version differs from the expected one.
 * Not an HTTP error by itself: command plumbing retries, then maps it to 409 or 412.
 */
export class WrongExpectedVersionError extends Error {
  readonly streamId: string;
  readonly expected: string;
  readonly actual: number | null;
  constructor(streamId: string, expected: string, actual: number | null) {
    super(`Stream ${streamId}: expected version ${expected}, actual ${actual ?? "unknown"}`);
    this.streamId = streamId;
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * Raised by an event store when a guard stream of an append is no longer at the version
 * the caller named (nothing appended). Not an HTTP error: the caller re-reads and decides again.
 */
export class StaleGuardError extends Error {
  readonly streamId: string;
  /** The guard streams whose version differed. */
  readonly staleStreamIds: readonly string[];
  constructor(streamId: string, staleStreamIds: readonly string[]) {
    super(`Stream ${streamId}: guard streams changed: ${staleStreamIds.join(", ")}`);
    this.streamId = streamId;
    this.staleStreamIds = staleStreamIds;
  }
}

/** Raised by an event store when an append names an idempotency key that is already recorded. */
export class DuplicateIdempotencyKeyError extends Error {
  readonly key: string;
  constructor(key: string) {
    super("Idempotency key already recorded");
    this.key = key;
  }
}

/** Marks an error as a store outage (connection refused, timeout, server shutting down). */
export class StoreUnavailableError extends UnavailableError {
  constructor(store: string, options?: { cause?: unknown }) {
    super(`The ${store} store is unavailable; retry shortly`, 1);
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}
