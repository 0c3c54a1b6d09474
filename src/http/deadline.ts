/**
 * A deadline for every request koa runs: past it the client gets 503 (problem+json,
 * Retry-After) instead of waiting on a store that stopped answering without closing its
 * connections (a frozen PostgreSQL: a request holding a pooled connection waited as long as
 * the freeze, 30-40 s in a fault audit). The handler itself runs on: a command cut off may
 * still commit, as after a dropped connection, so clients retry commands with their
 * Idempotency-Key. Whatever the handler sets afterwards is ignored (the answer is gone).
 */
import type { Middleware } from "koa";
import { UnavailableError } from "../shared/errors.ts";
import { withTimeout } from "../shared/with_timeout.ts";

/** The default: longer than any wait a request is allowed on purpose (X-Consistent-With's, bodies). */
export function defaultDeadlineMs(consistencyWaitMs: number): number {
  return Math.max(15_000, consistencyWaitMs + 10_000);
}

export function requestDeadline(ms: number): Middleware {
  const late = (): Error => new UnavailableError(`No answer within ${ms / 1000} s: a store is not answering; retry shortly (a command with its Idempotency-Key)`, 1);
  return (_ctx, next) => withTimeout(next(), ms, late);
}
