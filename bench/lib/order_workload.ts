/** The order-placement workload shared by the append scenarios: pick products (Zipf), read their streams, build an OrderPlaced. */
import { randomUUID } from "node:crypto";
import type { OrderLine, OrderPlaced, ProductCreated } from "../../src/shared/events.ts";
import { createRandom, seedId, zipfSampler, type Random } from "../../src/seed/prng.ts";

export interface WorkloadProduct {
  id: string;
  created: ProductCreated["data"];
}

/** `count` EUR products with ProductCreated data, deterministic for the seed. */
export function workloadProducts(count: number, seed = 1): WorkloadProduct[] {
  const random = createRandom(seed, "workload-products");
  return Array.from({ length: count }, (_, index) => {
    const id = seedId(seed, "bench-product", index);
    return { id, created: { productId: id, sku: `BENCH-${index}`, name: `Bench product ${index}`, description: "", category: `cat-${index % 20}`, priceCents: random.int(99, 99_999), currency: "EUR", stock: 100 } };
  });
}

/** Returns a picker of 1..3 distinct product indexes with Zipf-skewed popularity. */
export function productPicker(count: number, seed = 1): () => number[] {
  const random: Random = createRandom(seed, "workload-picks");
  const sample = zipfSampler(count, 0.9);
  return () => {
    const wanted = Math.min(count, 1 + (random.chance(0.5) ? 0 : random.int(1, 2)));
    const picked = new Set<number>();
    for (let attempt = 0; picked.size < wanted && attempt < 20; attempt++) picked.add(sample(random));
    return [...picked];
  };
}

/** The OrderPlaced a service would decide for these product states (1 of each, quantity 1..2). */
export function orderPlaced(products: ProductCreated["data"][], customerId: string): OrderPlaced {
  const lines: OrderLine[] = products.map((p, i) => ({ productId: p.productId, sku: p.sku, name: p.name, category: p.category, quantity: 1 + (i % 2), unitPriceCents: p.priceCents, lineTotalCents: (1 + (i % 2)) * p.priceCents }));
  return {
    type: "OrderPlaced",
    data: { orderId: randomUUID(), customerId, currency: "EUR", lines, totalCents: lines.reduce((s, l) => s + l.lineTotalCents, 0), itemCount: lines.reduce((s, l) => s + l.quantity, 0) },
  };
}
