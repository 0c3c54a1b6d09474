/**
 * Request logging: one line per request with its id, method, path, status and duration.
 * Never logs headers (so never a token) or bodies.
 */
import type { Middleware } from "koa";
import type { Logger } from "pino";
import { requestIdOf } from "./request_id.ts";

/** Middleware that logs each finished request (5xx at warn, 4xx at info, others at debug). */
export function requestLog(logger: Logger): Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const status = ctx.status;
      const line = {
        requestId: requestIdOf(ctx),
        method: ctx.method,
        path: ctx.path,
        status,
        ms: Math.round((performance.now() - started) * 10) / 10,
      };
      if (status >= 500) logger.warn(line, "request");
      else if (status >= 400) logger.info(line, "request");
      else logger.debug(line, "request");
    }
  };
}
