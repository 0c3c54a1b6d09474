/**
 * Request logging: one line per request with its id, method, path, status and duration.
 * Never logs headers (so never a token) or bodies. The same timing feeds the request
 * observers (the metrics), so a request is timed once by one middleware.
 */
import type { Context, Middleware } from "koa";
import type { Logger } from "pino";
import { requestIdOf } from "./request_id.ts";

/** Told about every finished request with its final status; must not throw. */
export type RequestObserver = (ctx: Context, seconds: number) => void;

/**
 * Middleware that logs each finished request (5xx at warn, except 503s: info, as 4xx; others at
 * debug) and tells the observers. A 503 is a store outage or a wait that ran out, already told
 * once a second by the error middleware: a warn line per request buried the rest of an outage's log.
 */
export function requestLog(logger: Logger, observers: readonly RequestObserver[] = []): Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const ms = performance.now() - started;
      for (const observe of observers) observe(ctx, ms / 1000);
      const status = ctx.status;
      const level = status >= 500 && status !== 503 ? "warn" : status >= 400 ? "info" : "debug";
      if (logger.isLevelEnabled(level)) {
        const line = { requestId: requestIdOf(ctx), method: ctx.method, path: ctx.path, status, ms: Math.round(ms * 10) / 10 };
        logger[level](line, "request");
      }
    }
  };
}
