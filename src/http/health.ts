/**
 * Liveness and readiness: `/healthz` answers 200 while the process runs; `/readyz` asks
 * an injected check. Both are public.
 */
import type Router from "@koa/router";
import { z } from "zod";
import { UnavailableError } from "../shared/errors.ts";
import { withTimeout } from "../shared/with_timeout.ts";
import type { RouteDoc } from "./route_module.ts";

/** OpenAPI descriptions of the health routes. */
export const healthDocs: readonly RouteDoc[] = [
  { method: "get", path: "/healthz", summary: "Liveness: 200 while the process runs", tags: ["operations"], responses: { 200: { description: "The process runs", schema: z.object({ status: z.literal("ok") }) } } },
  {
    method: "get", path: "/readyz", summary: "Readiness: the stores are reachable and migrations applied", tags: ["operations"],
    responses: { 200: { description: "Ready", schema: z.object({ status: z.literal("ready") }) }, 503: { description: "A store is unreachable (or did not answer within 2 s) or migrations are not applied", headers: { "Retry-After": "Seconds to wait" } } },
  },
];

/**
 * How long /readyz waits for its check. A store that does not answer at all (a frozen server: its
 * connections stay open, nothing comes back) is not ready: a fault audit saw /readyz hang for as
 * long as PostgreSQL was stopped with SIGSTOP, 20 to 94 s.
 */
export const READY_TIMEOUT_MS = 2000;

/** The check's answer, or false once it took longer than READY_TIMEOUT_MS (or failed). */
function readyWithin(ready: () => Promise<boolean>): Promise<boolean> {
  return withTimeout(ready(), READY_TIMEOUT_MS, () => new Error("readiness check timed out")).catch(() => false);
}

/** Registers GET /healthz and GET /readyz on a router. */
export function registerHealthRoutes(router: Router, ready: () => Promise<boolean>): void {
  router.get("/healthz", (ctx) => {
    ctx.body = { status: "ok" };
  });
  router.get("/readyz", async (ctx) => {
    const isReady = await readyWithin(ready);
    if (!isReady) throw new UnavailableError("Not ready: a store is unreachable or migrations are not applied", 1);
    ctx.body = { status: "ready" };
  });
}
