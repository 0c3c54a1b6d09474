/**
 * Prometheus metrics (prom-client) served at GET /metrics: request durations by route and
 * status, where hot reads were answered from (Redis view or PostgreSQL fallback),
 * projection lag and throughput, and connection-pool usage.
 */
import type { Context } from "koa";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Pool } from "../db/pool.ts";
import type { RouteModule } from "./route_module.ts";

const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

export interface ProjectionLag {
  name: string;
  lagEvents: number;
  /** Age in seconds of the oldest event not applied yet (0 when caught up); null when unknown. */
  lagSeconds?: number | null;
  parkedEvents: number;
  /** Log events the serving version has consumed (a counter across restarts). */
  eventsDone?: number;
  /** Whether the Redis views are complete; null/undefined when this process does not lead the projection or it has none. */
  viewsReady?: boolean | null;
}

export interface Metrics {
  registry: Registry;
  /** Records one finished request (a request observer for the app; cheap: labelled children are cached). */
  observe(ctx: Context, seconds: number): void;
  /** Records one finished request by method, route template and status (for answers sent outside koa: the hot reads' fast path). */
  record(method: string, route: string, status: number, seconds: number): void;
  /** Counts a hot read by its source. */
  viewRead(source: "memory" | "redis" | "postgres"): void;
  routes: RouteModule;
}

/** Creates the registry and instruments; `projectionLag` is read at scrape time. */
export function createMetrics(options: { pool: Pool; projectionLag?: () => Promise<ProjectionLag[]>; viewCache?: (() => { bytes: number; entries: number }) | null }): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request duration by route, method and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const viewReads = new Counter({ name: "view_reads_total", help: "Reads of prepared views by source (memory: the in-process copy kept coherent by Redis tracking; redis; postgres fallback)", labelNames: ["source"], registers: [registry] });
  const pool = options.pool;
  new Gauge({
    name: "pg_pool_connections",
    help: "PostgreSQL pool connections by state",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      this.set({ state: "total" }, pool.totalCount);
      this.set({ state: "idle" }, pool.idleCount);
      this.set({ state: "waiting" }, pool.waitingCount);
    },
  });
  const viewCache = options.viewCache;
  if (viewCache) {
    // It fills up to VIEW_CACHE_MB as distinct views are read, then stays there: part of the process's RSS.
    new Gauge({
      name: "view_cache_bytes",
      help: "Bytes of prepared views held in the in-process view cache (bounded by VIEW_CACHE_MB)",
      registers: [registry],
      collect() {
        this.set(viewCache().bytes);
      },
    });
    new Gauge({
      name: "view_cache_entries",
      help: "Prepared views held in the in-process view cache",
      registers: [registry],
      collect() {
        this.set(viewCache().entries);
      },
    });
  }
  const lagEvents = new Gauge({ name: "projection_lag_events", help: "Events between a projection's checkpoint and the head", labelNames: ["projection"], registers: [registry] });
  const lagSeconds = new Gauge({ name: "projection_lag_seconds", help: "Business-time lag of a projection behind the head", labelNames: ["projection"], registers: [registry] });
  const parked = new Gauge({ name: "projection_parked_events", help: "Events parked after repeated failures", labelNames: ["projection"], registers: [registry] });
  const eventsDone = new Gauge({ name: "projection_events_done", help: "Log events the serving version has consumed (rate() gives throughput)", labelNames: ["projection"], registers: [registry] });
  const viewsReady = new Gauge({
    name: "projection_views_ready",
    help: "1 when the projection's Redis views are complete, 0 while they are deferred, dirty or being restored from the rows (reported by the leading process)",
    labelNames: ["projection"],
    registers: [registry],
  });

  async function refreshProjections(): Promise<void> {
    if (!options.projectionLag) return;
    for (const item of await options.projectionLag().catch(() => [])) {
      lagEvents.set({ projection: item.name }, item.lagEvents);
      if (item.lagSeconds !== undefined && item.lagSeconds !== null) lagSeconds.set({ projection: item.name }, item.lagSeconds);
      parked.set({ projection: item.name }, item.parkedEvents);
      if (item.eventsDone !== undefined) eventsDone.set({ projection: item.name }, item.eventsDone);
      if (item.viewsReady !== undefined && item.viewsReady !== null) viewsReady.set({ projection: item.name }, item.viewsReady ? 1 : 0);
      else viewsReady.remove({ projection: item.name });
    }
  }

  // Labelled children by method → route → status: no labels object, closure or exemplar lookup per request.
  type Child = ReturnType<typeof duration.labels>;
  const children = new Map<string, Map<string, Map<number, Child>>>();
  function observe(ctx: Context, seconds: number): void {
    const route = (ctx as unknown as { _matchedRoute?: unknown })._matchedRoute;
    record(ctx.method, typeof route === "string" ? route : route === undefined ? "unmatched" : String(route), ctx.status, seconds);
  }

  function record(requestMethod: string, routeLabel: string, status: number, seconds: number): void {
    // Clients choose the method token: only known methods get their own label.
    const method = KNOWN_METHODS.has(requestMethod) ? requestMethod : "OTHER";
    let byRoute = children.get(method);
    if (byRoute === undefined) children.set(method, (byRoute = new Map()));
    let byStatus = byRoute.get(routeLabel);
    if (byStatus === undefined) byRoute.set(routeLabel, (byStatus = new Map()));
    let child = byStatus.get(status);
    if (child === undefined) byStatus.set(status, (child = duration.labels({ method, route: routeLabel, status: String(status) })));
    child.observe(seconds);
  }

  return {
    registry,
    observe,
    record,
    viewRead: (source) => viewReads.inc({ source }),
    routes: {
      docs: [{ method: "get", path: "/metrics", summary: "Prometheus metrics (text format)", tags: ["operations"], responses: { 200: { description: "Prometheus text exposition format" } } }],
      register(router) {
        router.get("/metrics", async (ctx) => {
          await refreshProjections();
          ctx.type = registry.contentType;
          ctx.body = await registry.metrics();
        });
      },
    },
  };
}
