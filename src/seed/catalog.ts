/**
 * Plans the product catalog: each product's full event history with business times
 * (creation, price/detail/stock changes, discontinuation), plus a popularity order.
 * Pure and deterministic for a seed; writes nothing.
 */
import type { ProductCreated, ProductEvent } from "../shared/events.ts";
import { createRandom, seedId, shuffledIndexes, type Random } from "./prng.ts";
import { ADJECTIVES, CATEGORIES, COLORS, DESCRIPTION_WORDS, STOCK_REASONS } from "./vocabulary.ts";

export const DAY_MS = 86_400_000;

export interface TimedProductEvent {
  event: ProductEvent;
  atMs: number;
}

export interface PlannedProduct {
  index: number;
  id: string;
  sku: string;
  currency: string;
  createdAtMs: number;
  /** Business time of discontinuation, or null while active at the end. */
  discontinuedAtMs: number | null;
  /** ProductCreated first, then changes in time order. */
  events: TimedProductEvent[];
}

export interface Catalog {
  products: PlannedProduct[];
  /** Product indexes from most to least popular. */
  popularity: Uint32Array;
}

export interface CatalogOptions {
  products: number;
  seed: number;
  startMs: number;
  spanMs: number;
}

/** Expected events per product (sku reservation included); used by the size estimate. */
export const EXPECTED_EVENTS_PER_PRODUCT = 2 + 0.4 * 2 + 0.15 + 0.5 * 2.5 + 0.08;

function words(random: Random, count: number): string {
  const parts: string[] = [];
  for (let i = 0; i < count; i++) parts.push(random.pick(DESCRIPTION_WORDS));
  const text = parts.join(" ");
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

function roundPrice(cents: number): number {
  return Math.max(99, Math.round(cents / 100) * 100 - 1);
}

function plannedCreation(random: Random, index: number, options: CatalogOptions): { created: ProductCreated; atMs: number } {
  const spec = random.pick(CATEGORIES);
  const id = seedId(options.seed, "product", index);
  const logMin = Math.log(spec.minPriceCents);
  const logMax = Math.log(spec.maxPriceCents);
  const roll = random.next();
  const atMs = random.chance(0.7)
    ? options.startMs + Math.floor(random.next() * 0.9 * DAY_MS)
    : options.startMs + DAY_MS + Math.floor(random.next() * (options.spanMs * 0.88 - DAY_MS));
  const created: ProductCreated = {
    type: "ProductCreated",
    data: {
      productId: id,
      sku: `${spec.code}-${index.toString().padStart(7, "0")}`,
      name: `${random.pick(ADJECTIVES)} ${random.pick(COLORS)} ${random.pick(spec.nouns)}`,
      description: words(random, random.int(6, 30)),
      category: spec.name,
      priceCents: roundPrice(Math.exp(logMin + random.next() * (logMax - logMin))),
      currency: roll < 0.85 ? "EUR" : roll < 0.95 ? "USD" : "GBP",
      stock: random.int(0, 500),
    },
  };
  return { created, atMs };
}

function plannedChanges(random: Random, created: ProductCreated, createdAtMs: number, endMs: number): { events: TimedProductEvent[]; discontinuedAtMs: number | null } {
  const productId = created.data.productId;
  const discontinuedAtMs = random.chance(0.08) && endMs - createdAtMs > 14 * DAY_MS
    ? createdAtMs + 7 * DAY_MS + Math.floor(random.next() * (endMs - createdAtMs - 8 * DAY_MS))
    : null;
  const lastMs = discontinuedAtMs ?? endMs;
  const kinds: ("price" | "details" | "stock")[] = [];
  if (random.chance(0.4)) for (let i = random.int(1, 3); i > 0; i--) kinds.push("price");
  if (random.chance(0.15)) kinds.push("details");
  if (random.chance(0.5)) for (let i = random.int(1, 4); i > 0; i--) kinds.push("stock");
  const times = kinds.map(() => createdAtMs + 60_000 + Math.floor(random.next() * (lastMs - createdAtMs - 120_000))).sort((a, b) => a - b);
  let price = created.data.priceCents;
  let stock = created.data.stock;
  let category = created.data.category;
  const events: TimedProductEvent[] = [];
  kinds.forEach((kind, i) => {
    const atMs = times[i]!;
    if (kind === "price") {
      const next = roundPrice(price * (0.8 + random.next() * 0.45));
      if (next !== price) events.push({ atMs, event: { type: "ProductPriceChanged", data: { productId, priceCents: next } } });
      price = next;
    } else if (kind === "details") {
      const roll = random.next();
      if (roll < 0.35) {
        const spec = random.pick(CATEGORIES.filter((c) => c.name !== category));
        category = spec.name;
        events.push({ atMs, event: { type: "ProductDetailsChanged", data: { productId, category } } });
      } else if (roll < 0.7) {
        events.push({ atMs, event: { type: "ProductDetailsChanged", data: { productId, description: words(random, random.int(8, 40)) } } });
      } else {
        const name = `${random.pick(ADJECTIVES)} ${created.data.name}`.slice(0, 200);
        events.push({ atMs, event: { type: "ProductDetailsChanged", data: { productId, name } } });
      }
    } else {
      const delta = stock > 0 && random.chance(0.3) ? -random.int(1, Math.min(stock, 20)) : random.int(10, 200);
      stock += delta;
      events.push({ atMs, event: { type: "ProductStockAdjusted", data: { productId, delta, stock, reason: random.pick(STOCK_REASONS) } } });
    }
  });
  if (discontinuedAtMs !== null) events.push({ atMs: discontinuedAtMs, event: { type: "ProductDiscontinued", data: { productId } } });
  return { events, discontinuedAtMs };
}

/** Plans every product's history; deterministic for (seed, products, startMs, spanMs). */
export function planCatalog(options: CatalogOptions): Catalog {
  const random = createRandom(options.seed, "catalog");
  const endMs = options.startMs + options.spanMs;
  const products: PlannedProduct[] = [];
  for (let index = 0; index < options.products; index++) {
    const { created, atMs } = plannedCreation(random, index, options);
    const changes = plannedChanges(random, created, atMs, endMs);
    products.push({
      index,
      id: created.data.productId,
      sku: created.data.sku,
      currency: created.data.currency,
      createdAtMs: atMs,
      discontinuedAtMs: changes.discontinuedAtMs,
      events: [{ event: created, atMs }, ...changes.events],
    });
  }
  return { products, popularity: shuffledIndexes(options.products, createRandom(options.seed, "popularity")) };
}
