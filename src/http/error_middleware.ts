/**
 * The one place errors become answers: AppError subclasses map to their problem+json,
 * a store outage to 503 with Retry-After, anything else to a 500 without internals.
 */
import type { Context, Middleware } from "koa";
import type { Logger } from "pino";
import { isConnectionError } from "../db/pool.ts";
import { AppError, UnavailableError, ValidationError } from "../shared/errors.ts";
import { sendProblem, type ProblemBody } from "./problem.ts";
import { requestIdOf } from "./request_id.ts";

/** Converts any thrown value to the problem body and extra headers it answers with. */
export function problemFor(error: unknown): { problem: ProblemBody; headers: Record<string, string>; expected: boolean } {
  if (error instanceof AppError) {
    const problem: ProblemBody = { type: error.type, title: error.title, status: error.status };
    if (error.message && error.message !== error.title) problem.detail = error.message;
    if (error instanceof ValidationError) problem.errors = error.issues;
    const headers: Record<string, string> = {};
    if (error instanceof UnavailableError) headers["Retry-After"] = String(error.retryAfterSeconds);
    const extra = (error as { headers?: unknown }).headers;
    if (extra && typeof extra === "object") Object.assign(headers, extra);
    return { problem, headers, expected: error.status < 500 };
  }
  if (isConnectionError(error)) {
    const unavailable = new UnavailableError();
    return {
      problem: { type: unavailable.type, title: unavailable.title, status: 503, detail: unavailable.message },
      headers: { "Retry-After": String(unavailable.retryAfterSeconds) },
      expected: false,
    };
  }
  return {
    problem: { type: "internal", title: "Internal server error", status: 500, detail: "An unexpected error occurred" },
    headers: {},
    expected: false,
  };
}

/**
 * 503s for a store that is down are expected while it is: one warn line a second at most
 * (the message and how many more answered so), not an error with a stack per request.
 */
class OutageLog {
  #logger: Logger;
  #windowStart = Number.NEGATIVE_INFINITY;
  #suppressed = 0;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  note(error: unknown, requestId: string | undefined): void {
    const now = performance.now();
    if (now - this.#windowStart < 1000) {
      this.#suppressed++;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    const cause = (error as { cause?: unknown }).cause;
    this.#logger.warn(
      { requestId, error: message, ...(cause instanceof Error ? { cause: cause.message } : {}), alsoUnavailableInLastSecond: this.#suppressed },
      "request answered 503: a store is unavailable",
    );
    this.#windowStart = now;
    this.#suppressed = 0;
  }
}

/**
 * Middleware that turns every error thrown below it into problem+json and logs 5xx;
 * `after` runs once the rest answered, inside the same guard (e.g. throwIfUnanswered).
 */
export function errorMiddleware(logger: Logger, after?: (ctx: Context) => void): Middleware {
  const outages = new OutageLog(logger);
  return async (ctx, next) => {
    try {
      await next();
      if (after !== undefined) after(ctx);
    } catch (error) {
      const { problem, headers, expected } = problemFor(error);
      // A 503 is an outage (UnavailableError, or a lost connection to a store).
      if (problem.status === 503) outages.note(error, requestIdOf(ctx));
      else if (!expected) logger.error({ err: error, requestId: requestIdOf(ctx) }, "request failed");
      for (const [name, value] of Object.entries(headers)) ctx.set(name, value);
      // A body left unread (a 401 before reading, a stalled upload) is not drained: close instead.
      if (!ctx.req.complete) ctx.set("Connection", "close");
      sendProblem(ctx, problem);
    }
  };
}
