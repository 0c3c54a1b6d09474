/**
 * The write side's HTTP surface: all nine command routes, behind the `commands` scope.
 */
import type { Pool } from "../db/pool.ts";
import type { EventStore } from "../event_store/types.ts";
import type { RouteModule } from "../http/route_module.ts";
import { systemClock, type Clock } from "./clock.ts";
import type { CommandEnv } from "./command_route.ts";
import { orderCommandDocs, registerOrderCommands } from "./orders/routes.ts";
import { productCommandDocs, registerProductCommands } from "./products/routes.ts";

export interface CommandRouteDeps {
  store: EventStore;
  /** The PostgreSQL pool holding `idempotency_keys`. */
  pool: Pool;
  clock?: Clock;
  newId?: () => string;
}

/** The command routes as a RouteModule (register + OpenAPI docs from the same schemas). */
export function commandRoutes(deps: CommandRouteDeps): RouteModule {
  const env: CommandEnv = {
    store: deps.store,
    pool: deps.pool,
    clock: deps.clock ?? systemClock,
    newId: deps.newId ?? (() => crypto.randomUUID()),
  };
  return {
    register(router, context) {
      registerProductCommands(router, context, env);
      registerOrderCommands(router, context, env);
    },
    docs: [...productCommandDocs, ...orderCommandDocs],
  };
}
