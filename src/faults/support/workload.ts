/**
 * A mixed command load for fault tests: lanes that each own their products and orders
 * (so per aggregate the commands are sequential), every command with an Idempotency-Key
 * and client-chosen ids, every answer kept in a ledger. Bounded in count and time.
 */
import { sendCommand, type Answer } from "./client.ts";

/** One command sent and what came back. */
export interface LedgerEntry {
  key: string;
  path: string;
  body: Record<string, unknown>;
  /** The event type this command appends when it is applied. */
  eventType: string;
  /** The aggregate's stream. */
  streamId: string;
  answer: Answer;
}

interface LaneState {
  lane: number;
  products: Array<{ id: string; priceCents: number }>;
  orders: Array<{ id: string; totalCents: number; status: "placed" | "paid" | "cancelled" }>;
  n: number;
}

export interface LoadOptions {
  /** Where to send; a function so a test can swap the service under the load. */
  base: () => string;
  lanes: number;
  maxCommandsPerLane: number;
  durationMs: number;
  /** Unique per run, so keys and skus never collide across runs on one database. */
  runId: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)]!;
}

/** The next command of a lane, chosen at random from what its state allows. */
function nextCommand(state: LaneState, runId: string): Omit<LedgerEntry, "answer"> {
  const key = `${runId}-${state.lane}-${state.n++}`;
  const roll = Math.random();
  if (state.products.length < 2 || roll < 0.2) {
    const id = crypto.randomUUID();
    const priceCents = 100 + Math.floor(Math.random() * 900);
    const body = { id, sku: `F-${key}`, name: `Fault ${key}`, category: `faults-${state.lane % 3}`, priceCents, stock: 1000 };
    return { key, path: "/v1/products", body, eventType: "ProductCreated", streamId: `product-${id}` };
  }
  const product = pick(state.products);
  if (roll < 0.35) {
    // Every price in a lane is new (the lane's command number is in it): a price equal to
    // the current one is a legitimate no-op (200, nothing appended), not what this checks.
    const body = { priceCents: 100_000 + state.lane * 10_000_000 + state.n };
    return { key, path: `/v1/products/${product.id}/price`, body, eventType: "ProductPriceChanged", streamId: `product-${product.id}` };
  }
  if (roll < 0.45) {
    const body = { delta: 1 + Math.floor(Math.random() * 10), reason: "restock" };
    return { key, path: `/v1/products/${product.id}/stock`, body, eventType: "ProductStockAdjusted", streamId: `product-${product.id}` };
  }
  const placed = state.orders.filter((order) => order.status === "placed");
  if (roll < 0.7 || placed.length === 0) {
    const id = crypto.randomUUID();
    const lines = [{ productId: product.id, quantity: 1 + Math.floor(Math.random() * 3) }];
    const body = { id, customerId: `00000000-0000-4000-8000-${String(state.lane).padStart(12, "0")}`, lines };
    return { key, path: "/v1/orders", body, eventType: "OrderPlaced", streamId: `order-${id}` };
  }
  const order = pick(placed);
  if (roll < 0.9) {
    const body = { paymentId: crypto.randomUUID(), amountCents: order.totalCents, method: "card" };
    return { key, path: `/v1/orders/${order.id}/pay`, body, eventType: "OrderPaid", streamId: `order-${order.id}` };
  }
  return { key, path: `/v1/orders/${order.id}/cancel`, body: { reason: "fault test" }, eventType: "OrderCancelled", streamId: `order-${order.id}` };
}

/** Updates a lane's model after an acknowledged command. */
function applyAck(state: LaneState, entry: LedgerEntry): void {
  const body = entry.body;
  if (entry.eventType === "ProductCreated") state.products.push({ id: String(body["id"]), priceCents: Number(body["priceCents"]) });
  const product = state.products.find((p) => entry.streamId === `product-${p.id}`);
  if (entry.eventType === "ProductPriceChanged" && product) product.priceCents = Number(body["priceCents"]);
  if (entry.eventType === "OrderPlaced") {
    const line = (body["lines"] as Array<{ productId: string; quantity: number }>)[0]!;
    const price = state.products.find((p) => p.id === line.productId)?.priceCents ?? 0;
    state.orders.push({ id: String(body["id"]), totalCents: price * line.quantity, status: "placed" });
  }
  const order = state.orders.find((o) => entry.streamId === `order-${o.id}`);
  if (entry.eventType === "OrderPaid" && order) order.status = "paid";
  if (entry.eventType === "OrderCancelled" && order) order.status = "cancelled";
}

/** Runs the lanes until each sent its commands or the time is up; returns every entry. */
export async function runLoad(options: LoadOptions): Promise<LedgerEntry[]> {
  const ledger: LedgerEntry[] = [];
  const deadline = performance.now() + options.durationMs;
  const lane = async (index: number): Promise<void> => {
    const state: LaneState = { lane: index, products: [], orders: [], n: 0 };
    for (let i = 0; i < options.maxCommandsPerLane && performance.now() < deadline && !options.signal?.aborted; i++) {
      const command = nextCommand(state, options.runId);
      const answer = await sendCommand(options.base(), command.path, command.body, { key: command.key, timeoutMs: options.timeoutMs ?? 15_000 });
      const entry = { ...command, answer };
      ledger.push(entry);
      if (answer.status >= 200 && answer.status < 300) applyAck(state, entry);
      else if (answer.status === 0 || answer.status >= 500) await new Promise((resolve) => setTimeout(resolve, answer.status === 0 ? 200 : 50));
    }
  };
  await Promise.all(Array.from({ length: options.lanes }, (_, index) => lane(index)));
  return ledger;
}

/** True for a 2xx answer. */
export function acknowledged(entry: LedgerEntry): boolean {
  return entry.answer.status >= 200 && entry.answer.status < 300;
}
