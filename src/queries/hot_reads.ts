/**
 * The hot reads' fast path: `GET /v1/products/{id}`, `/v1/products/by-sku/{sku}` and
 * `/v1/orders/{id}` answered from the in-process copy of the prepared views on the node
 * request itself, in the turn it arrived, before koa builds a context and runs its
 * middleware (bare koa with its router reaches ~0.65–0.75× of a node:http server sending a
 * buffer on this machine; this path, 0.9–0.96×). It answers only what it can
 * answer exactly as the koa routes do (same status, headers and bytes: a test compares
 * both, request by request); for anything else it returns false and koa answers: another
 * method or path form, a query string, X-Consistent-With (the copy's invalidation may still
 * be on its way), Redis not usable, a view not in the copy or known absent (the 404 comes
 * from koa), a body that would need compressing now, or request logging at debug level
 * (koa's middleware logs each request).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Redis } from "ioredis";
import { acceptsGzip, preparedReply } from "../http/conditional.ts";
import { pickRequestId } from "../http/request_id.ts";
import { viewKey, type ActiveVersions } from "../shared/read_models.ts";
import { ORDERS } from "./orders.ts";
import { preparedFromViews } from "./prepared.ts";
import { PRODUCT_CATALOG } from "./product_catalog.ts";
import { redisUsable } from "./redis_health.ts";
import { LOWER_UUID, SKU_PATTERN } from "./schemas.ts";
import type { ViewCache } from "./view_cache.ts";

export interface HotReadDeps {
  viewCache: ViewCache;
  redis: Redis | null;
  activeVersions: ActiveVersions;
  newRequestId: () => string;
  /** Told about each answer (the request-duration metric), with koa's route template. */
  record(method: string, route: string, status: number, seconds: number): void;
  onViewRead?: (source: "memory") => void;
}

/** Answers the request and returns true, or returns false having done nothing (koa answers). */
export type HotReads = (req: IncomingMessage, res: ServerResponse) => boolean;

interface Target {
  route: string;
  projection: string;
  by: string;
  key: string;
}

const PRODUCTS = "/v1/products/";
const BY_SKU = "/v1/products/by-sku/";
const ORDERS_PATH = "/v1/orders/";

/** The view a path names, for the three routes in their plain form (no query, no escapes, lower-case uuid); else null. */
function targetOf(url: string): Target | null {
  if (url.startsWith(PRODUCTS)) {
    if (url.length === PRODUCTS.length + 36) {
      const id = url.slice(PRODUCTS.length);
      return LOWER_UUID.test(id) ? { route: "/v1/products/:id", projection: PRODUCT_CATALOG, by: "id", key: id } : null;
    }
    if (url.startsWith(BY_SKU)) {
      const sku = url.slice(BY_SKU.length);
      return SKU_PATTERN.test(sku) ? { route: "/v1/products/by-sku/:sku", projection: PRODUCT_CATALOG, by: "sku", key: sku } : null;
    }
    return null;
  }
  if (url.startsWith(ORDERS_PATH) && url.length === ORDERS_PATH.length + 36) {
    const id = url.slice(ORDERS_PATH.length);
    return LOWER_UUID.test(id) ? { route: "/v1/orders/:id", projection: ORDERS, by: "id", key: id } : null;
  }
  return null;
}

/** The fast path over `deps` (see the module comment). */
export function createHotReads(deps: HotReadDeps): HotReads {
  const answer = answerer(deps);
  return (req, res) => {
    try {
      return answer(req, res);
    } catch {
      // Nothing sent yet (a value the header checks refuse, say): koa answers, and its error
      // middleware turns the same failure into a problem+json instead of a crashed process.
      if (res.headersSent) throw new Error("hot read failed after its answer was sent");
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      return false;
    }
  };
}

function answerer(deps: HotReadDeps): HotReads {
  return (req, res) => {
    const started = performance.now();
    if (req.method !== "GET") return false;
    const target = targetOf(req.url ?? "");
    if (target === null) return false;
    const headers = req.headers;
    if (headers["x-consistent-with"] !== undefined || !redisUsable(deps.redis)) return false;
    const version = deps.activeVersions.get(target.projection);
    const key = viewKey(target.projection, version, target.by, target.key);
    const values = deps.viewCache.peek(acceptsGzip(headers) ? [key, viewKey(target.projection, version, `${target.by}_gz`, target.key)] : [key]);
    const answer = values === null ? null : preparedFromViews(values[0], values[1]);
    if (answer === null) return false;
    const reply = preparedReply(headers, answer);
    // Compressing now is koa's path (it awaits the compressor).
    if (reply.status === 200 && reply.ready === null) return false;
    deps.onViewRead?.("memory");
    // The headers in the order koa's path sets them (request id, conditional, type, encoding, length).
    res.setHeader("X-Request-Id", pickRequestId(headers["x-request-id"], deps.newRequestId));
    res.setHeader("ETag", reply.etag);
    res.setHeader("Cache-Control", "no-cache");
    res.setHeader("Vary", "Accept-Encoding");
    res.statusCode = reply.status;
    if (reply.status === 304) res.end();
    else {
      res.setHeader("Content-Type", "application/json; charset=utf-8");
      if (reply.encoding !== null) res.setHeader("Content-Encoding", reply.encoding);
      res.setHeader("Content-Length", reply.ready.length);
      res.end(reply.ready);
    }
    deps.record("GET", target.route, reply.status, (performance.now() - started) / 1000);
    return true;
  };
}
