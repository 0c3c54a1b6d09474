/**
 * The koa application: request id, request log, extra middleware (metrics), one error
 * middleware, public health routes, the routes of every module (command routes rate
 * limited per client), and problem+json answers for 404 and 405.
 */
import { Router } from "@koa/router";
import Koa from "koa";
import type { Middleware } from "koa";
import type { Logger } from "pino";
import type { ApiToken } from "../config.ts";
import { createAuthenticator } from "./auth.ts";
import { setBodyTimeout } from "./body.ts";
import { errorMiddleware } from "./error_middleware.ts";
import { fallback } from "./fallback.ts";
import { registerHealthRoutes } from "./health.ts";
import { RateLimiter, rateLimit, type RateLimiterOptions } from "./rate_limit.ts";
import { requestId } from "./request_id.ts";
import { requestLog } from "./request_log.ts";
import type { RouteContext, RouteModule } from "./route_module.ts";

export interface AppOptions {
  tokens: readonly ApiToken[];
  logger: Logger;
  routes: readonly RouteModule[];
  /** Readiness check for `/readyz`; a rejection counts as not ready. */
  ready: () => Promise<boolean>;
  /** Request id generator (crypto.randomUUID by default). */
  newRequestId?: () => string;
  /**
   * Top-level middleware run after the request id and the request log and outside the
   * error middleware (so they see the final status, e.g. the metrics middleware). They
   * must not throw.
   */
  middleware?: readonly Middleware[];
  /**
   * Rate limit of the command routes (every route behind the `commands` scope), per client
   * (its known bearer token, else its remote address): requests per second, bursts of 2×.
   * 0 or absent: off. An options object sets the burst, the client cap or a test clock.
   */
  commandRateLimit?: number | RateLimiterOptions;
  /** Longest time to receive a request body before answering 408 (default 10 s). */
  bodyTimeoutMs?: number;
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
  app.use(requestLog(options.logger));
  for (const middleware of options.middleware ?? []) app.use(middleware);
  app.use(errorMiddleware(options.logger));
  app.use(fallback());
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
