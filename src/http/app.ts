/**
 * The koa application: request id, request log (which also tells the request observers,
 * e.g. the metrics), extra middleware, one error middleware (which also turns requests no
 * route answered into 404/405 problems), public health routes, and the routes of every
 * module (command routes rate limited per client). Few layers: each costs on every request.
 */
import { Router } from "@koa/router";
import Koa from "koa";
import type { Middleware } from "koa";
import type { Logger } from "pino";
import type { ApiToken } from "../config.ts";
import { createAuthenticator } from "./auth.ts";
import { setBodyTimeout } from "./body.ts";
import { defaultDeadlineMs, requestDeadline } from "./deadline.ts";
import { errorMiddleware } from "./error_middleware.ts";
import { throwIfUnanswered } from "./fallback.ts";
import { registerHealthRoutes } from "./health.ts";
import { RateLimiter, rateLimit, type RateLimiterOptions } from "./rate_limit.ts";
import { requestId } from "./request_id.ts";
import { requestLog, type RequestObserver } from "./request_log.ts";
import type { RouteContext, RouteModule } from "./route_module.ts";

export interface AppOptions {
  tokens: readonly ApiToken[];
  logger: Logger;
  routes: readonly RouteModule[];
  /** Readiness check for `/readyz`; a rejection counts as not ready. */
  ready: () => Promise<boolean>;
  /** Request id generator (a random per-process prefix and a counter by default). */
  newRequestId?: () => string;
  /**
   * Top-level middleware run after the request id and the request log and outside the
   * error middleware (so they see the final status). They must not throw. For timing a
   * request, prefer `observers` (no extra layer).
   */
  middleware?: readonly Middleware[];
  /**
   * Told about every finished request with its final status and duration, by the request
   * log (e.g. the metrics' observe): cheaper than one more middleware. Must not throw.
   */
  observers?: readonly RequestObserver[];
  /**
   * Rate limit of the command routes (every route behind the `commands` scope), per client
   * (its known bearer token, else its remote address): requests per second, bursts of 2×.
   * 0 or absent: off. An options object sets the burst, the client cap or a test clock.
   */
  commandRateLimit?: number | RateLimiterOptions;
  /** Longest time to receive a request body before answering 408 (default 10 s). */
  bodyTimeoutMs?: number;
  /** Longest time a request may take before answering 503 (requestDeadline; default 15 s). */
  requestDeadlineMs?: number;
}

function commandLimiter(setting: AppOptions["commandRateLimit"]): RateLimiter | null {
  if (setting === undefined) return null;
  const options = typeof setting === "number" ? { rate: setting } : setting;
  return options.rate > 0 ? new RateLimiter(options) : null;
}

/** Builds the koa app; it listens nowhere until startServer is called. */
export function createApp(options: AppOptions): Koa {
  const app = new Koa({ proxy: false });
  // Errors are answered and logged by errorMiddleware; keep koa's default printer quiet.
  app.silent = true;
  if (options.bodyTimeoutMs !== undefined) setBodyTimeout(app, options.bodyTimeoutMs);
  const auth = createAuthenticator(options.tokens);
  const limiter = commandLimiter(options.commandRateLimit);
  // The limit runs before auth, so a flood of bad tokens is limited by address as well.
  const limited: Middleware | null = limiter && rateLimit(limiter, (authorization) => auth.knownToken(authorization));
  const context: RouteContext = {
    requireScope(scope) {
      const guard = auth.requireScope(scope);
      if (scope !== "commands" || limited === null) return guard;
      return (ctx, next) => limited(ctx, () => guard(ctx, next));
    },
  };
  const router = new Router();
  registerHealthRoutes(router, options.ready);
  for (const module of options.routes) module.register(router, context);

  app.use(requestId(options.newRequestId));
  app.use(requestLog(options.logger, options.observers));
  for (const middleware of options.middleware ?? []) app.use(middleware);
  // One middleware answers errors and requests no route answered (404/405 problems).
  app.use(errorMiddleware(options.logger, throwIfUnanswered));
  app.use(requestDeadline(options.requestDeadlineMs ?? defaultDeadlineMs(0)));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
