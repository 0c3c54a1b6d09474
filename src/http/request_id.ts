/**
 * Request ids: echo a sane incoming X-Request-Id or make one; always answer with it.
 */
import type { Middleware } from "koa";

const REQUEST_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

/**
 * A generator of process-unique ids shaped like a UUID (`8-4-4-4-12` hex): the first four
 * groups random per process, the last a counter. Far cheaper per call than randomUUID.
 */
export function sequentialIds(): () => string {
  const prefix = crypto.randomUUID().slice(0, 24);
  let counter = 0;
  return () => prefix + (++counter).toString(16).padStart(12, "0");
}

/** The request's id: a sane incoming X-Request-Id, else a new one. */
export function pickRequestId(incoming: string | string[] | undefined, newId: () => string): string {
  return typeof incoming === "string" && REQUEST_ID_PATTERN.test(incoming) ? incoming : newId();
}

/** Middleware that sets `ctx.state.requestId` and the `X-Request-Id` response header. */
export function requestId(newId: () => string = sequentialIds()): Middleware {
  return (ctx, next) => {
    const id = pickRequestId(ctx.req.headers["x-request-id"], newId);
    ctx.state["requestId"] = id;
    ctx.res.setHeader("X-Request-Id", id);
    return next();
  };
}

/** The request id of a context (set by the requestId middleware). */
export function requestIdOf(ctx: { state: Record<string, unknown> }): string {
  const id = ctx.state["requestId"];
  return typeof id === "string" ? id : "unknown";
}
