/**
 * The product aggregate: commands, state, and the pure decide/evolve pair.
 */
import type { EventMetadata } from "../../event_store/types.ts";
import { ConflictError, NotFoundError, UnprocessableError } from "../../shared/errors.ts";
import type { ProductCreated, ProductEvent } from "../../shared/events.ts";
import type { Decider } from "../handle.ts";

export type ProductCommand =
  | { type: "CreateProduct"; data: ProductCreated["data"] }
  | { type: "ChangePrice"; data: { priceCents: number } }
  | { type: "ChangeDetails"; data: { name?: string | undefined; description?: string | undefined; category?: string | undefined } }
  | { type: "AdjustStock"; data: { delta: number; reason: string } }
  | { type: "Discontinue" };

export interface ProductState {
  status: "none" | "active" | "discontinued";
  productId: string;
  sku: string;
  name: string;
  description: string;
  category: string;
  priceCents: number;
  currency: string;
  stock: number;
}

/** The state before a product's first event. */
export const initialProductState: ProductState = {
  status: "none",
  productId: "",
  sku: "",
  name: "",
  description: "",
  category: "",
  priceCents: 0,
  currency: "",
  stock: 0,
};

function requireActive(state: ProductState): void {
  if (state.status === "none") throw new NotFoundError("Product not found");
  if (state.status === "discontinued") throw new ConflictError("Product is discontinued");
}

function decideDetails(command: Extract<ProductCommand, { type: "ChangeDetails" }>, state: ProductState): ProductEvent[] {
  const changed: { name?: string; description?: string; category?: string } = {};
  const { name, description, category } = command.data;
  if (name !== undefined && name !== state.name) changed.name = name;
  if (description !== undefined && description !== state.description) changed.description = description;
  if (category !== undefined && category !== state.category) changed.category = category;
  if (Object.keys(changed).length === 0) return [];
  return [{ type: "ProductDetailsChanged", data: { productId: state.productId, ...changed } }];
}

/** Decides the events for a product command. Pure; throws an AppError on a broken rule. */
export function decideProduct(command: ProductCommand, state: ProductState): ProductEvent[] {
  switch (command.type) {
    case "CreateProduct":
      if (state.status !== "none") throw new ConflictError("Product already exists");
      return [{ type: "ProductCreated", data: { ...command.data } }];
    case "ChangePrice":
      requireActive(state);
      if (state.priceCents === command.data.priceCents) return [];
      return [{ type: "ProductPriceChanged", data: { productId: state.productId, priceCents: command.data.priceCents } }];
    case "ChangeDetails":
      requireActive(state);
      return decideDetails(command, state);
    case "AdjustStock": {
      requireActive(state);
      const stock = state.stock + command.data.delta;
      if (stock < 0) throw new UnprocessableError(`Stock would go below zero (stock ${state.stock}, delta ${command.data.delta})`);
      return [{ type: "ProductStockAdjusted", data: { productId: state.productId, delta: command.data.delta, stock, reason: command.data.reason } }];
    }
    case "Discontinue":
      if (state.status === "none") throw new NotFoundError("Product not found");
      if (state.status === "discontinued") throw new ConflictError("Product is already discontinued");
      return [{ type: "ProductDiscontinued", data: { productId: state.productId } }];
    default: {
      const unhandled: never = command;
      throw new Error(`Unhandled command ${JSON.stringify(unhandled)}`);
    }
  }
}

/** Folds one product event into the state. Pure. */
export function evolveProduct(state: ProductState, event: ProductEvent, _metadata?: EventMetadata): ProductState {
  switch (event.type) {
    case "ProductCreated":
      return { status: "active", ...event.data };
    case "ProductPriceChanged":
      return { ...state, priceCents: event.data.priceCents };
    case "ProductDetailsChanged": {
      const { name, description, category } = event.data;
      return {
        ...state,
        ...(name !== undefined ? { name } : {}),
        ...(description !== undefined ? { description } : {}),
        ...(category !== undefined ? { category } : {}),
      };
    }
    case "ProductStockAdjusted":
      return { ...state, stock: event.data.stock };
    case "ProductDiscontinued":
      return { ...state, status: "discontinued" };
    default: {
      const unhandled: never = event;
      throw new Error(`Unhandled event ${JSON.stringify(unhandled)}`);
    }
  }
}

/** The product decider for the generic command plumbing. */
export const productDecider: Decider<ProductCommand, ProductState, ProductEvent> = {
  initialState: initialProductState,
  evolve: evolveProduct,
  decide: decideProduct,
};
