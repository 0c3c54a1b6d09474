/**
 * Liveness and readiness: `/healthz` answers 200 while the process runs; `/readyz` asks
 * an injected check. Both are public.
 */
import type Router from "@koa/router";
import { UnavailableError } from "../shared/errors.ts";

/** Registers GET /healthz and GET /readyz on a router. */
export function registerHealthRoutes(router: Router, ready: () => Promise<boolean>): void {
  router.get("/healthz", (ctx) => {
    ctx.body = { status: "ok" };
  });
  router.get("/readyz", async (ctx) => {
    const isReady = await ready().catch(() => false);
    if (!isReady) throw new UnavailableError("Not ready: a store is unreachable or migrations are not applied", 1);
    ctx.body = { status: "ready" };
  });
}
