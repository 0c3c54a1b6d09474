/**
 * The koa application: request id, request log, one error middleware, public health
 * routes, the routes of every module, and problem+json answers for 404 and 405.
 */
import { Router } from "@koa/router";
import Koa from "koa";
import type { Logger } from "pino";
import type { ApiToken } from "../config.ts";
import { createAuthenticator } from "./auth.ts";
import { errorMiddleware } from "./error_middleware.ts";
import { fallback } from "./fallback.ts";
import { registerHealthRoutes } from "./health.ts";
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
}

/** Builds the koa app; it listens nowhere until startServer is called. */
export function createApp(options: AppOptions): Koa {
  const app = new Koa({ proxy: false });
  // Errors are answered and logged by errorMiddleware; keep koa's default printer quiet.
  app.silent = true;
  const auth = createAuthenticator(options.tokens);
  const context: RouteContext = { requireScope: (scope) => auth.requireScope(scope) };
  const router = new Router();
  registerHealthRoutes(router, options.ready);
  for (const module of options.routes) module.register(router, context);

  app.use(requestId(options.newRequestId));
  app.use(requestLog(options.logger));
  app.use(errorMiddleware(options.logger));
  app.use(fallback());
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
