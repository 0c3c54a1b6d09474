/**
 * Request ids: echo a sane incoming X-Request-Id or make one; always answer with it.
 */
import type { Middleware } from "koa";

const REQUEST_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

/** Middleware that sets `ctx.state.requestId` and the `X-Request-Id` response header. */
export function requestId(newId: () => string = () => crypto.randomUUID()): Middleware {
  return async (ctx, next) => {
    const incoming = ctx.get("X-Request-Id");
    const id = REQUEST_ID_PATTERN.test(incoming) ? incoming : newId();
    ctx.state["requestId"] = id;
    ctx.set("X-Request-Id", id);
    await next();
  };
}

/** The request id of a context (set by the requestId middleware). */
export function requestIdOf(ctx: { state: Record<string, unknown> }): string {
  const id = ctx.state["requestId"];
  return typeof id === "string" ? id : "unknown";
}
