/**
 * Plans orders in business-time order against the catalog's state at each moment: only
 * active products, one currency per order, the price/name/category current at placement,
 * then payment (amount = total), shipment (only when paid) or cancellation (never after
 * shipment). Lazy: yields one order at a time so a million events need little memory.
 */
import type { OrderEvent, OrderLine, PaymentMethod, SalesLine } from "../shared/events.ts";
import { DAY_MS, type Catalog } from "./catalog.ts";
import { createRandom, seedId, zipfSampler, type Random } from "./prng.ts";
import { CANCEL_REASONS, CARRIERS } from "./vocabulary.ts";

export interface TimedOrderEvent {
  event: OrderEvent;
  atMs: number;
  correlationId: string;
}

export interface PlannedOrder {
  index: number;
  id: string;
  events: TimedOrderEvent[];
}

export interface OrderPlanOptions {
  orders: number;
  customers: number;
  seed: number;
  startMs: number;
  spanMs: number;
}

/** Expected events per order (placed + paid + shipped + cancelled), before end-of-window truncation. */
export const EXPECTED_EVENTS_PER_ORDER = 1 + 0.8 + 0.8 * 0.75 + 0.12 + 0.8 * 0.07;

interface LiveProduct {
  active: boolean;
  sku: string;
  name: string;
  category: string;
  priceCents: number;
  currency: string;
}

const METHODS: readonly PaymentMethod[] = ["card", "card", "card", "card", "card", "card", "card", "paypal", "paypal", "bank_transfer"];

function lineCount(random: Random): number {
  const roll = random.next();
  if (roll < 0.45) return 1;
  if (roll < 0.7) return 2;
  if (roll < 0.85) return 3;
  return random.int(4, 10);
}

function quantity(random: Random): number {
  const roll = random.next();
  return roll < 0.75 ? 1 : roll < 0.9 ? 2 : random.int(3, 5);
}

function trackingNumber(random: Random): string {
  let text = "";
  for (let i = random.int(12, 18); i > 0; i--) text += "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"[random.int(0, 33)];
  return text;
}

function pickLines(random: Random, live: LiveProduct[], ids: readonly string[], catalog: Catalog, sample: (r: Random) => number): { lines: OrderLine[]; currency: string } {
  const wanted = lineCount(random);
  const lines: OrderLine[] = [];
  const taken = new Set<number>();
  let currency: string | null = null;
  for (let attempt = 0; lines.length < wanted && attempt < wanted * 20; attempt++) {
    const index = catalog.popularity[sample(random)]!;
    const product = live[index]!;
    if (!product.active || taken.has(index) || (currency !== null && product.currency !== currency)) continue;
    taken.add(index);
    currency = product.currency;
    const qty = quantity(random);
    lines.push({ productId: ids[index]!, sku: product.sku, name: product.name, category: product.category, quantity: qty, unitPriceCents: product.priceCents, lineTotalCents: qty * product.priceCents });
  }
  if (lines.length === 0) {
    const index = live.findIndex((product) => product.active);
    if (index < 0) throw new Error("seed: no active product to order");
    const product = live[index]!;
    lines.push({ productId: ids[index]!, sku: product.sku, name: product.name, category: product.category, quantity: 1, unitPriceCents: product.priceCents, lineTotalCents: product.priceCents });
    currency = product.currency;
  }
  return { lines, currency: currency ?? "EUR" };
}

function lifecycle(random: Random, placed: TimedOrderEvent, endMs: number): TimedOrderEvent[] {
  if (placed.event.type !== "OrderPlaced") throw new Error("lifecycle starts with OrderPlaced");
  const { orderId, currency, lines, totalCents } = placed.event.data;
  const sales: SalesLine[] = lines.map((line) => ({ productId: line.productId, category: line.category, quantity: line.quantity, lineTotalCents: line.lineTotalCents }));
  const events: TimedOrderEvent[] = [placed];
  const at = (after: number, minMs: number, maxMs: number): number => after + minMs + Math.floor(random.next() * (maxMs - minMs));
  const roll = random.next();
  if (roll >= 0.8) {
    const cancelAt = at(placed.atMs, 600_000, 2 * DAY_MS);
    if (roll < 0.92 && cancelAt < endMs) {
      events.push({ atMs: cancelAt, correlationId: random.uuid(), event: { type: "OrderCancelled", data: { orderId, reason: random.pick(CANCEL_REASONS), previousStatus: "placed", paidAt: null, currency, lines: sales } } });
    }
    return events;
  }
  const paidAt = at(placed.atMs, 60_000, 6 * 3_600_000);
  if (paidAt >= endMs) return events;
  events.push({ atMs: paidAt, correlationId: random.uuid(), event: { type: "OrderPaid", data: { orderId, paymentId: random.uuid(), amountCents: totalCents, method: random.pick(METHODS), currency, lines: sales } } });
  const next = random.next();
  if (next < 0.75) {
    const shippedAt = at(paidAt, 2 * 3_600_000, 3 * DAY_MS);
    if (shippedAt < endMs) events.push({ atMs: shippedAt, correlationId: random.uuid(), event: { type: "OrderShipped", data: { orderId, carrier: random.pick(CARRIERS), trackingNumber: trackingNumber(random) } } });
  } else if (next < 0.82) {
    const cancelAt = at(paidAt, 600_000, 2 * DAY_MS);
    if (cancelAt < endMs) {
      events.push({ atMs: cancelAt, correlationId: random.uuid(), event: { type: "OrderCancelled", data: { orderId, reason: random.pick(CANCEL_REASONS), previousStatus: "paid", paidAt: new Date(paidAt).toISOString(), currency, lines: sales } } });
    }
  }
  return events;
}

/** Yields the planned orders in placement order; deterministic for the seed and the catalog. */
export function* planOrders(catalog: Catalog, options: OrderPlanOptions): Generator<PlannedOrder> {
  const random = createRandom(options.seed, "orders");
  const timeline = catalog.products.flatMap((product) => product.events).sort((a, b) => a.atMs - b.atMs);
  const ids = catalog.products.map((product) => product.id);
  const live: LiveProduct[] = catalog.products.map((product) => ({ active: false, sku: product.sku, name: "", category: "", priceCents: 0, currency: product.currency }));
  const sampleProduct = zipfSampler(catalog.products.length, 0.9);
  const sampleCustomer = zipfSampler(Math.max(1, options.customers), 0.6);
  const endMs = options.startMs + options.spanMs;
  const firstMs = options.startMs + DAY_MS;
  const stepMs = (endMs - firstMs) / Math.max(1, options.orders);
  const productIndex = new Map(ids.map((id, index) => [id, index]));
  let cursor = 0;
  for (let index = 0; index < options.orders; index++) {
    const placedAt = Math.floor(firstMs + (index + random.next() * 0.999) * stepMs);
    for (; cursor < timeline.length && timeline[cursor]!.atMs <= placedAt; cursor++) {
      const { event } = timeline[cursor]!;
      const product = live[productIndex.get(event.data.productId)!]!;
      if (event.type === "ProductCreated") Object.assign(product, { active: true, name: event.data.name, category: event.data.category, priceCents: event.data.priceCents });
      else if (event.type === "ProductPriceChanged") product.priceCents = event.data.priceCents;
      else if (event.type === "ProductDetailsChanged") Object.assign(product, { ...(event.data.name === undefined ? {} : { name: event.data.name }), ...(event.data.category === undefined ? {} : { category: event.data.category }) });
      else if (event.type === "ProductDiscontinued") product.active = false;
    }
    const orderId = seedId(options.seed, "order", index);
    const customerId = seedId(options.seed, "customer", sampleCustomer(random));
    const { lines, currency } = pickLines(random, live, ids, catalog, sampleProduct);
    const placed: TimedOrderEvent = {
      atMs: placedAt,
      correlationId: random.uuid(),
      event: {
        type: "OrderPlaced",
        data: {
          orderId, customerId, currency, lines,
          totalCents: lines.reduce((sum, line) => sum + line.lineTotalCents, 0),
          itemCount: lines.reduce((sum, line) => sum + line.quantity, 0),
        },
      },
    };
    yield { index, id: orderId, events: lifecycle(random, placed, endMs) };
  }
}
