/**
 * Read-your-writes for queries: `X-Consistent-With: <position>` makes a query wait until
 * the read models it reads have applied every event up to that position (bounded by
 * CONSISTENCY_WAIT_MS), else answer 503 with Retry-After. A malformed position is a 400.
 */
import type { Context, Middleware } from "koa";
import { UnavailableError, ValidationError } from "../shared/errors.ts";
import { parsePosition } from "../shared/position.ts";
import type { ProgressWaiter } from "../shared/read_models.ts";

/** Documentation of the header, for route docs. */
export const CONSISTENT_WITH_DOC = "A `position` from a command answer: the answer reflects at least every event up to it (waits up to CONSISTENCY_WAIT_MS, else 503).";

export interface ConsistencyOptions {
  progress: ProgressWaiter;
  waitMs: number;
  /** The projections the route reads. */
  projections: readonly string[];
}

async function waitFor(raw: string | string[], options: ConsistencyOptions): Promise<void> {
  const text = Array.isArray(raw) ? raw.join(",") : raw;
  const position = parsePosition(text.trim());
  if (position === null) {
    throw new ValidationError([{ path: "headers.x-consistent-with", message: 'must be a position as returned by a command ("<commit>-<prepare>")' }]);
  }
  const reached = await options.progress.waitFor(options.projections, position, options.waitMs);
  if (!reached) throw new UnavailableError("The read model has not caught up with the requested position yet; retry shortly", 1);
}

/**
 * Waits for the named projections when the request sends a position: null at once when it
 * sends none (no promise, no tick on the hot path), else a promise that settles when the
 * wait is over (rejects with 400 or 503 like consistentWith).
 */
export function consistencyWait(ctx: Context, options: ConsistencyOptions): Promise<void> | null {
  const raw = ctx.req.headers["x-consistent-with"];
  return raw === undefined ? null : waitFor(raw, options);
}

/** Middleware that waits for the named projections to reach the requested position, when one is sent. */
export function consistentWith(options: ConsistencyOptions): Middleware {
  return async (ctx, next) => {
    const waiting = consistencyWait(ctx, options);
    if (waiting !== null) await waiting;
    await next();
  };
}
