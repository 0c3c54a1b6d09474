/**
 * The write side's HTTP surface: all nine command routes, behind the `commands` scope.
 */
import type { Pool } from "../db/pool.ts";
import type { EventStore } from "../event_store/types.ts";
import type { RouteModule } from "../http/route_module.ts";
import { systemClock, type Clock } from "./clock.ts";
import type { CommandEnv } from "./command_route.ts";
import { createProductSnapshotCache, type ProductSnapshotCache } from "./orders/product_snapshot_cache.ts";
import { orderCommandDocs, registerOrderCommands } from "./orders/routes.ts";
import { productCommandDocs, registerProductCommands } from "./products/routes.ts";

export interface CommandRouteDeps {
  store: EventStore;
  /** The PostgreSQL pool holding `idempotency_keys`. */
  pool: Pool;
  clock?: Clock;
  newId?: () => string;
  /** Product snapshots for order placement (default: a new cache of its own). */
  productSnapshots?: ProductSnapshotCache;
}

/** The command routes as a RouteModule (register + OpenAPI docs from the same schemas). */
export function commandRoutes(deps: CommandRouteDeps): RouteModule {
  const env: CommandEnv = {
    store: deps.store,
    pool: deps.pool,
    clock: deps.clock ?? systemClock,
    newId: deps.newId ?? (() => crypto.randomUUID()),
  };
  const productSnapshots = deps.productSnapshots ?? createProductSnapshotCache();
  return {
    register(router, context) {
      registerProductCommands(router, context, env);
      registerOrderCommands(router, context, env, productSnapshots);
    },
    docs: [...productCommandDocs, ...orderCommandDocs],
  };
}
