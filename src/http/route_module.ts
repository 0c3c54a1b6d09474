/**
 * How each side contributes HTTP routes: a RouteModule registers its routes on the shared
 * router and describes them (with the same zod schemas the handlers use) for /openapi.json.
 */
import type Router from "@koa/router";
import type { Middleware } from "koa";
import type { ZodType } from "zod";
import type { Scope } from "../config.ts";

/** What the app hands a module when it registers. */
export interface RouteContext {
  /** Middleware that answers 401 without a known bearer token and 403 without the scope. */
  requireScope(scope: Scope): Middleware;
}

export interface ResponseDoc {
  description: string;
  /** Body schema; omitted for empty bodies. Errors use the problem+json schema automatically. */
  schema?: ZodType;
  headers?: Record<string, string>;
}

/** One documented operation. `path` uses OpenAPI syntax: `/v1/products/{id}`. */
export interface RouteDoc {
  method: "get" | "post" | "put" | "delete";
  path: string;
  summary: string;
  description?: string;
  tags?: string[];
  /** Required scope; omitted for public routes. */
  scope?: Scope;
  params?: ZodType;
  query?: ZodType;
  /** Request headers the route reads (name → description). */
  headers?: Record<string, string>;
  body?: ZodType;
  responses: Record<number, ResponseDoc>;
}

export interface RouteModule {
  register(router: Router, context: RouteContext): void;
  docs: readonly RouteDoc[];
}
