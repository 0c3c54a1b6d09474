/**
 * Read-your-writes for queries: `X-Consistent-With: <position>` makes a query wait until
 * the read models it reads have applied every event up to that position (bounded by
 * CONSISTENCY_WAIT_MS), else answer 503 with Retry-After. A malformed position is a 400,
 * listed with the request's other issues (checkQuery).
 */
import type { Context } from "koa";
import { UnavailableError, ValidationError, type Issue } from "../shared/errors.ts";
import { parsePosition, type Position } from "../shared/position.ts";
import { collectIssues } from "../shared/validation.ts";
import type { ProgressWaiter } from "../shared/read_models.ts";

/** Documentation of the header, for route docs. */
export const CONSISTENT_WITH_DOC = "A `position` from a command answer: the answer reflects at least every event up to it (waits up to CONSISTENCY_WAIT_MS, else 503).";

export interface ConsistencyOptions {
  progress: ProgressWaiter;
  waitMs: number;
  /** The projections the route reads. */
  projections: readonly string[];
}

/** The position a request asks its answer to reflect (X-Consistent-With), or null when it sends none; a ValidationError when the header is not one. */
function requestedPosition(ctx: Context): Position | null {
  const raw = ctx.req.headers["x-consistent-with"];
  if (raw === undefined) return null;
  const text = Array.isArray(raw) ? raw.join(",") : raw;
  const position = parsePosition(text.trim());
  if (position === null) {
    throw new ValidationError([{ path: "headers.X-Consistent-With", message: 'must be a position as returned by a command ("<commit>-<prepare>")' }]);
  }
  return position;
}

/** Waits until the projections reached the position (else 503 with Retry-After). */
export async function waitForPosition(position: Position, options: ConsistencyOptions): Promise<void> {
  const reached = await options.progress.waitFor(options.projections, position, options.waitMs);
  if (!reached) throw new UnavailableError("The read model has not caught up with the requested position yet; retry shortly", 1);
}

/**
 * Checks a query's input (`parse`: its params and query string) and its X-Consistent-With
 * together, so that a 400 lists every issue of the request; answers the parsed input and the
 * position to wait for (null: none sent), for the caller to wait on (waitForPosition) before it reads.
 */
export function checkQuery<T>(ctx: Context, parse: () => T): { input: T; position: Position | null } {
  const issues: Issue[] = [];
  const input = collectIssues(issues, parse);
  const position = collectIssues(issues, () => requestedPosition(ctx)) ?? null;
  if (issues.length > 0) throw new ValidationError(issues);
  return { input: input as T, position };
}
