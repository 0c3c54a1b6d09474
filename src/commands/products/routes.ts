/**
 * HTTP → product commands: five POST routes under /v1/products.
 */
import type { Router } from "@koa/router";
import { z } from "zod";
import type { RouteContext, RouteDoc } from "../../http/route_module.ts";
import { streams } from "../../shared/events.ts";
import { commandHandler, postUpdate, type CommandEnv, type CommandSpec } from "../command_route.ts";
import { idParams } from "../common_schemas.ts";
import { commandDoc } from "../route_docs.ts";
import { createProduct } from "./create.ts";
import { productDecider } from "./decide.ts";
import { adjustStockBody, changeDetailsBody, changePriceBody, createProductBody, discontinueBody } from "./schemas.ts";

const noParams = z.strictObject({});

const productAggregate = { prefix: "/v1/products", streamOf: streams.product, decider: productDecider, label: "Product" };

/** Registers the product command routes, each behind the `commands` scope. */
export function registerProductCommands(router: Router, context: RouteContext, env: CommandEnv): void {
  const guard = context.requireScope("commands");
  const create: CommandSpec<typeof noParams, typeof createProductBody> = {
    template: "/v1/products",
    create: true,
    params: noParams,
    body: createProductBody,
    resourceId: (_params, body, newId) => body.id ?? newId(),
    execute: ({ id, body, metadata, idempotency }) => {
      const { id: _ignored, ...fields } = body;
      return createProduct({ store: env.store, clock: env.clock, data: { productId: id, ...fields }, metadata, idempotency, idGenerated: body.id === undefined });
    },
  };
  router.post(create.template, guard, commandHandler(env, create));
  postUpdate(router, guard, env, productAggregate, { path: "price", body: changePriceBody, toCommand: (body) => ({ type: "ChangePrice" as const, data: body }) });
  postUpdate(router, guard, env, productAggregate, { path: "details", body: changeDetailsBody, toCommand: (body) => ({ type: "ChangeDetails" as const, data: body }) });
  postUpdate(router, guard, env, productAggregate, { path: "stock", body: adjustStockBody, toCommand: (body) => ({ type: "AdjustStock" as const, data: body }) });
  postUpdate(router, guard, env, productAggregate, { path: "discontinue", body: discontinueBody, toCommand: () => ({ type: "Discontinue" as const }) });
}

/** OpenAPI descriptions of the product command routes. */
export const productCommandDocs: readonly RouteDoc[] = [
  commandDoc({ path: "/v1/products", summary: "Create a product", tag: "products", create: true, body: createProductBody, extra: { 409: "The id exists or the sku is taken (a sku reserved by a create that was cut off before it created the product, e.g. by a crash, is free again 10 s later; a retry with the same Idempotency-Key takes the reservation over at once)" } }),
  commandDoc({ path: "/v1/products/{id}/price", summary: "Change a product's price", tag: "products", create: false, params: idParams, body: changePriceBody, extra: { 409: "The product is discontinued" } }),
  commandDoc({ path: "/v1/products/{id}/details", summary: "Change a product's name, description or category", tag: "products", create: false, params: idParams, body: changeDetailsBody, extra: { 409: "The product is discontinued" } }),
  commandDoc({ path: "/v1/products/{id}/stock", summary: "Adjust a product's stock", tag: "products", create: false, params: idParams, body: adjustStockBody, extra: { 409: "The product is discontinued", 422: "Stock would go below zero" } }),
  commandDoc({ path: "/v1/products/{id}/discontinue", summary: "Discontinue a product", tag: "products", create: false, params: idParams, body: discontinueBody, extra: { 409: "Already discontinued" } }),
];
