/** Request generators over the seeded data: valid, varied bodies and paths, deterministic per seed. */
import { CATEGORIES } from "../../src/seed/vocabulary.ts";
import { createRandom, seedId, zipfSampler } from "../../src/seed/prng.ts";
import { seedCatalog, seedWindow, type SeedSize } from "../../src/seed/seed.ts";
import type { LoadRequest } from "./http_load.ts";

export type RequestKind = "place-order" | "product-by-id" | "product-list" | "customer-orders" | "order-by-id" | "best-sellers" | "daily-sales";

export const READ_KINDS: readonly RequestKind[] = ["product-by-id", "product-list", "customer-orders", "order-by-id", "best-sellers", "daily-sales"];

const SORTS = ["newest", "price_asc", "price_desc", "best_selling"] as const;

/** The by-id read of every seeded product and order (the views the service's in-process view cache holds). */
export function byIdPaths(size: Required<SeedSize>): string[] {
  const products = seedCatalog(size).products.map((product) => `/v1/products/${product.id}`);
  const orders = Array.from({ length: size.orders }, (_, index) => `/v1/orders/${seedId(size.seed, "order", index)}`);
  return [...products, ...orders];
}

/** Builds request generators for a seeded size; `token` authorizes commands. */
export function requestGenerators(size: Required<SeedSize>, token: string | null): Record<RequestKind, () => LoadRequest> {
  const random = createRandom(size.seed, "bench-requests");
  const catalog = seedCatalog(size);
  const window = seedWindow({});
  const active = catalog.products.filter((p) => p.discontinuedAtMs === null);
  const byCurrency = new Map<string, typeof active>();
  for (const p of active) byCurrency.set(p.currency, [...(byCurrency.get(p.currency) ?? []), p]);
  const eur = byCurrency.get("EUR") ?? active;
  const pickEur = zipfSampler(eur.length, 0.9);
  const pickProduct = zipfSampler(catalog.products.length, 0.9);
  const pickCustomer = zipfSampler(size.customers, 0.6);
  const commandHeaders = { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
  return {
    "place-order": () => {
      const wanted = 1 + (random.chance(0.5) ? 0 : random.int(1, 3));
      const ids = new Set<string>();
      for (let i = 0; i < wanted * 3 && ids.size < wanted; i++) ids.add(eur[pickEur(random)]!.id);
      const lines = [...ids].map((productId) => ({ productId, quantity: random.int(1, 3) }));
      return { method: "POST", path: "/v1/orders", headers: commandHeaders, body: JSON.stringify({ customerId: seedId(size.seed, "customer", pickCustomer(random)), lines }) };
    },
    "product-by-id": () => {
      const product = catalog.products[catalog.popularity[pickProduct(random)]!]!;
      return { path: random.chance(0.1) ? `/v1/products/by-sku/${product.sku}` : `/v1/products/${product.id}` };
    },
    "product-list": () => {
      const query = new URLSearchParams({ category: random.pick(CATEGORIES).name, sort: random.pick(SORTS), limit: "20" });
      return { path: `/v1/products?${query}` };
    },
    "customer-orders": () => ({ path: `/v1/customers/${seedId(size.seed, "customer", pickCustomer(random))}/orders?limit=20` }),
    "order-by-id": () => ({ path: `/v1/orders/${seedId(size.seed, "order", random.int(0, size.orders - 1))}` }),
    "best-sellers": () => ({ path: `/v1/categories/${random.pick(CATEGORIES).name}/best-sellers?limit=10` }),
    "daily-sales": () => {
      const from = window.startMs + random.int(0, 80) * 86_400_000;
      const to = Math.min(window.startMs + window.spanMs, from + random.int(0, 30) * 86_400_000);
      const category = random.chance(0.5) ? `&category=${random.pick(CATEGORIES).name}` : "";
      return { path: `/v1/stats/daily-sales?from=${day(from)}&to=${day(to)}${category}` };
    },
  };
}

/** Median body size of a few sample responses (uncompressed), for sizing the HTTP floor. */
export async function typicalBodyBytes(url: string, next: () => LoadRequest, samples = 15): Promise<number> {
  const sizes: number[] = [];
  for (let i = 0; i < samples; i++) {
    const request = next();
    const response = await fetch(`${url}${request.path}`, { method: request.method ?? "GET", headers: { ...request.headers, "accept-encoding": "identity" }, ...(request.body === undefined ? {} : { body: request.body }), signal: AbortSignal.timeout(5000) });
    sizes.push((await response.arrayBuffer()).byteLength);
  }
  sizes.sort((a, b) => a - b);
  return Math.max(16, sizes[Math.floor(sizes.length / 2)]!);
}

/** Product-list requests for one sort (or every sort for "any") over random categories, deterministic per seed; a fresh call repeats the sequence. */
export function productListRequests(seed: number, sort: (typeof SORTS)[number] | "any", limit = 20): () => LoadRequest {
  const random = createRandom(seed, `product-list-${sort}`);
  return () => {
    const query = new URLSearchParams({ category: random.pick(CATEGORIES).name, sort: sort === "any" ? random.pick(SORTS) : sort, limit: String(limit) });
    return { path: `/v1/products?${query}` };
  };
}

/**
 * Walks the product list of every category once (pages 1..toPage, bounded) and returns
 * the paths of pages fromPage..toPage with their real nextCursor — deep-cursor requests.
 */
export async function collectDeepProductPages(url: string, options: { sort: (typeof SORTS)[number]; limit: number; fromPage: number; toPage: number }): Promise<string[]> {
  const paths: string[] = [];
  for (const category of CATEGORIES) {
    let cursor: string | null = null;
    for (let page = 1; page <= options.toPage; page++) {
      const query = new URLSearchParams({ category: category.name, sort: options.sort, limit: String(options.limit), ...(cursor === null ? {} : { cursor }) });
      const path = `/v1/products?${query}`;
      if (page >= options.fromPage) paths.push(path);
      const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) });
      if (!response.ok) throw new Error(`GET ${path} answered ${response.status}`);
      cursor = ((await response.json()) as { nextCursor: string | null }).nextCursor;
      if (cursor === null) break;
    }
  }
  return paths;
}

/** Picks uniformly from fixed paths, deterministic per seed and tag; a fresh call repeats the sequence. */
export function pickPaths(paths: readonly string[], seed: number, tag: string): () => LoadRequest {
  if (paths.length === 0) throw new Error(`no paths to pick from (${tag})`);
  const random = createRandom(seed, tag);
  return () => ({ path: random.pick(paths) });
}
