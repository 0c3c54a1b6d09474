import { describe, expect, it } from "vitest";
import type { EventMetadata } from "../../event_store/types.ts";
import { ConflictError, NotFoundError, UnprocessableError } from "../../shared/errors.ts";
import type { ProductEvent } from "../../shared/events.ts";
import { fixedClock } from "../clock.ts";
import { decideProduct, evolveProduct, initialProductState, type ProductCommand } from "./decide.ts";

const clock = fixedClock("2026-11-21T10:15:30.123Z");
const meta: EventMetadata = { occurredAt: clock.now().toISOString(), correlationId: "test", causationId: null };
const productId = "11111111-1111-4111-8111-111111111111";
const created: ProductEvent = {
  type: "ProductCreated",
  data: { productId, sku: "SKU-1", name: "Mug", description: "", category: "kitchen", priceCents: 1200, currency: "EUR", stock: 5 },
};
const discontinued: ProductEvent = { type: "ProductDiscontinued", data: { productId } };

function given(...events: ProductEvent[]) {
  return { when: (command: ProductCommand) => () => decideProduct(command, events.reduce((s, e) => evolveProduct(s, e, meta), initialProductState)) };
}

describe("product decider", () => {
  it("creates a product", () => {
    expect(given().when({ type: "CreateProduct", data: created.data as never })()).toEqual([created]);
  });
  it("rejects a create on an existing product with 409", () => {
    expect(given(created).when({ type: "CreateProduct", data: created.data as never })).toThrow(ConflictError);
  });
  it("changes the price, and appends nothing when it is unchanged", () => {
    expect(given(created).when({ type: "ChangePrice", data: { priceCents: 1500 } })()).toEqual([{ type: "ProductPriceChanged", data: { productId, priceCents: 1500 } }]);
    expect(given(created).when({ type: "ChangePrice", data: { priceCents: 1200 } })()).toEqual([]);
  });
  it("answers 404 for commands on a product that does not exist", () => {
    expect(given().when({ type: "ChangePrice", data: { priceCents: 1 } })).toThrow(NotFoundError);
    expect(given().when({ type: "Discontinue" })).toThrow(NotFoundError);
  });
  it("rejects price, details and stock on a discontinued product with 409", () => {
    expect(given(created, discontinued).when({ type: "ChangePrice", data: { priceCents: 1 } })).toThrow(ConflictError);
    expect(given(created, discontinued).when({ type: "ChangeDetails", data: { name: "X" } })).toThrow(ConflictError);
    expect(given(created, discontinued).when({ type: "AdjustStock", data: { delta: 1, reason: "" } })).toThrow(ConflictError);
  });
  it("changes only the details that differ", () => {
    expect(given(created).when({ type: "ChangeDetails", data: { name: "Mug", category: "cups" } })()).toEqual([
      { type: "ProductDetailsChanged", data: { productId, category: "cups" } },
    ]);
    expect(given(created).when({ type: "ChangeDetails", data: { name: "Mug", description: "" } })()).toEqual([]);
  });
  it("adjusts stock and carries the new stock; below zero is 422", () => {
    expect(given(created).when({ type: "AdjustStock", data: { delta: -5, reason: "sold" } })()).toEqual([
      { type: "ProductStockAdjusted", data: { productId, delta: -5, stock: 0, reason: "sold" } },
    ]);
    expect(given(created).when({ type: "AdjustStock", data: { delta: -6, reason: "" } })).toThrow(UnprocessableError);
  });
  it("discontinues once; twice is 409", () => {
    expect(given(created).when({ type: "Discontinue" })()).toEqual([discontinued]);
    expect(given(created, discontinued).when({ type: "Discontinue" })).toThrow(ConflictError);
  });
  it("folds details and stock events into the state", () => {
    const events: ProductEvent[] = [
      created,
      { type: "ProductDetailsChanged", data: { productId, name: "Cup" } },
      { type: "ProductStockAdjusted", data: { productId, delta: 3, stock: 8, reason: "" } },
    ];
    const state = events.reduce((s, e) => evolveProduct(s, e, meta), initialProductState);
    expect(state).toMatchObject({ status: "active", name: "Cup", stock: 8, category: "kitchen" });
  });
});
