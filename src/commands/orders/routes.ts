/**
 * HTTP → order commands: four POST routes under /v1/orders. Placement reads every named
 * product stream with one readStreams call and captures the products' current data.
 */
import type { Router } from "@koa/router";
import { z } from "zod";
import type { EventStore } from "../../event_store/types.ts";
import type { RouteContext, RouteDoc } from "../../http/route_module.ts";
import { streams } from "../../shared/events.ts";
import { commandHandler, postUpdate, type CommandEnv, type CommandSpec } from "../command_route.ts";
import { idParams } from "../common_schemas.ts";
import { fold, handle } from "../handle.ts";
import { productDecider } from "../products/decide.ts";
import { orderDecider, type OrderCommand, type ProductSnapshot } from "./decide.ts";
import { commandDoc } from "../route_docs.ts";
import { cancelOrderBody, payOrderBody, placeOrderBody, shipOrderBody } from "./schemas.ts";

const noParams = z.strictObject({});

/** Reads the named products (one round trip) as snapshots; null for a product that does not exist. */
export async function loadProducts(store: EventStore, productIds: readonly string[]): Promise<Map<string, ProductSnapshot | null>> {
  const reads = await store.readStreams(productIds.map(streams.product));
  const products = new Map<string, ProductSnapshot | null>();
  for (const productId of productIds) {
    const state = fold(productDecider, reads.get(streams.product(productId))?.events ?? []);
    if (state.status === "none") products.set(productId, null);
    else {
      const { status, sku, name, category, priceCents, currency } = state;
      products.set(productId, { status, sku, name, category, priceCents, currency });
    }
  }
  return products;
}

const orderAggregate = { prefix: "/v1/orders", streamOf: streams.order, decider: orderDecider, label: "Order" };

/** Registers the order command routes, each behind the `commands` scope. */
export function registerOrderCommands(router: Router, context: RouteContext, env: CommandEnv): void {
  const guard = context.requireScope("commands");
  const place: CommandSpec<typeof noParams, typeof placeOrderBody> = {
    template: "/v1/orders",
    create: true,
    params: noParams,
    body: placeOrderBody,
    resourceId: (_params, body, newId) => body.id ?? newId(),
    execute: async ({ id, body, metadata, idempotency }) => {
      const products = await loadProducts(env.store, body.lines.map((line) => line.productId));
      const command: OrderCommand = { type: "PlaceOrder", data: { orderId: id, customerId: body.customerId, lines: body.lines, products } };
      return handle({ store: env.store, streamId: streams.order(id), decider: orderDecider, command, mode: "create", ifMatch: null, metadata, idempotency, label: "Order" });
    },
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
