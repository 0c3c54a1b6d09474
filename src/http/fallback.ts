/**
 * Answers for requests no route handled: 404 for unknown paths, 405 with Allow for a
 * known path with another method, both as problem+json.
 */
import type { Context } from "koa";
import { AppError, NotFoundError } from "../shared/errors.ts";

/** 405: the path exists but not with this method; carries the Allow header. */
export class MethodNotAllowedError extends AppError {
  readonly headers: Record<string, string>;
  constructor(allow: string) {
    // The contract's closed list of problem types has no entry for 405; `not_found` is closest.
    super({ status: 405, type: "not_found", title: "Method not allowed", detail: `Allowed methods: ${allow}` });
    this.headers = { Allow: allow };
  }
}

/** Throws the problem for a request no route answered (empty 404/405/501); does nothing otherwise. */
export function throwIfUnanswered(ctx: Context): void {
  if (ctx.body !== undefined && ctx.body !== null) return;
  if (ctx.status === 405 || ctx.status === 501) {
    const allow = ctx.response.get("Allow");
    if (allow) throw new MethodNotAllowedError(allow);
  }
  if (ctx.status === 404) throw new NotFoundError(`No route for ${ctx.method} ${ctx.path}`);
}
