/**
 * Every query route, as one route module: products, orders and daily sales. Public
 * (no scope); each reads one read model through its active version.
 */
import type { RouteModule } from "../http/route_module.ts";
import { dailySalesRoutes } from "./daily_sales.ts";
import type { QueryDeps } from "./deps.ts";
import { orderRoutes } from "./orders.ts";
import { productCatalogRoutes } from "./product_catalog.ts";

export type { QueryDeps } from "./deps.ts";

/** The query side's routes and their docs (for /openapi.json). */
export function queryRoutes(deps: QueryDeps): RouteModule {
  const modules = [productCatalogRoutes(deps), orderRoutes(deps), dailySalesRoutes(deps)];
  return {
    register(router, context) {
      for (const module of modules) module.register(router, context);
    },
    docs: modules.flatMap((module) => module.docs),
  };
}
