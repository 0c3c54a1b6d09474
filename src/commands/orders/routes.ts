/**
 * HTTP → order commands: four POST routes under /v1/orders. Placement takes the products'
 * current data from their streams through the product snapshot cache (place_order.ts).
 */
import type { Router } from "@koa/router";
import { z } from "zod";
import type { RouteContext, RouteDoc } from "../../http/route_module.ts";
import { streams } from "../../shared/events.ts";
import { commandHandler, postUpdate, type CommandEnv, type CommandSpec } from "../command_route.ts";
import { idParams } from "../common_schemas.ts";
import { orderDecider } from "./decide.ts";
import { placeOrder } from "./place_order.ts";
import type { ProductSnapshotCache } from "./product_snapshot_cache.ts";
import { commandDoc } from "../route_docs.ts";
import { cancelOrderBody, payOrderBody, placeOrderBody, shipOrderBody } from "./schemas.ts";

const noParams = z.strictObject({});

const orderAggregate = { prefix: "/v1/orders", streamOf: streams.order, decider: orderDecider, label: "Order" };

/** Registers the order command routes, each behind the `commands` scope; placement uses (and fills) `products`. */
export function registerOrderCommands(router: Router, context: RouteContext, env: CommandEnv, products: ProductSnapshotCache): void {
  const guard = context.requireScope("commands");
  const place: CommandSpec<typeof noParams, typeof placeOrderBody> = {
    template: "/v1/orders",
    create: true,
    params: noParams,
    body: placeOrderBody,
    resourceId: (_params, body, newId) => body.id ?? newId(),
    execute: ({ id, body, metadata, idempotency }) =>
      placeOrder({ store: env.store, products, orderId: id, customerId: body.customerId, lines: body.lines, metadata, idempotency }),
  };
  router.post(place.template, guard, commandHandler(env, place));
  postUpdate(router, guard, env, orderAggregate, { path: "pay", body: payOrderBody, toCommand: (body) => ({ type: "PayOrder" as const, data: body }) });
  postUpdate(router, guard, env, orderAggregate, { path: "ship", body: shipOrderBody, toCommand: (body) => ({ type: "ShipOrder" as const, data: body }) });
  postUpdate(router, guard, env, orderAggregate, { path: "cancel", body: cancelOrderBody, toCommand: (body) => ({ type: "CancelOrder" as const, data: body }) });
}

/** OpenAPI descriptions of the order command routes. */
export const orderCommandDocs: readonly RouteDoc[] = [
  commandDoc({ path: "/v1/orders", summary: "Place an order", tag: "orders", create: true, body: placeOrderBody, extra: { 409: "The id exists", 422: "Unknown or discontinued product, or lines in more than one currency" } }),
  commandDoc({ path: "/v1/orders/{id}/pay", summary: "Pay an order", tag: "orders", create: false, params: idParams, body: payOrderBody, extra: { 409: "The order is not placed", 422: "amountCents differs from totalCents" } }),
  commandDoc({ path: "/v1/orders/{id}/ship", summary: "Ship an order", tag: "orders", create: false, params: idParams, body: shipOrderBody, extra: { 409: "The order is not paid" } }),
  commandDoc({ path: "/v1/orders/{id}/cancel", summary: "Cancel an order", tag: "orders", create: false, params: idParams, body: cancelOrderBody, extra: { 409: "The order is shipped or cancelled" } }),
];
