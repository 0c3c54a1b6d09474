/**
 * Test support (tests only): builds consistent domain events the way the commands would
 * (order lines capture the product's sku, name, category and price; OrderPaid and
 * OrderCancelled carry the sales lines), on top of a TestLog.
 */
import type { OrderLine, SalesLine } from "../../shared/events.ts";
import { TestLog } from "./fold.ts";

interface ProductInfo {
  id: string;
  sku: string;
  name: string;
  category: string;
  priceCents: number;
  currency: string;
}

interface OrderInfo {
  id: string;
  currency: string;
  lines: OrderLine[];
  totalCents: number;
  status: "placed" | "paid" | "shipped" | "cancelled";
  paidAt: string | null;
}

/** A little commerce world that appends events to its log. */
export class Scenario {
  readonly log = new TestLog();
  readonly products = new Map<string, ProductInfo>();
  readonly orders = new Map<string, OrderInfo>();

  /** ProductCreated with defaults for the omitted fields. */
  createProduct(at: string, input: Partial<ProductInfo> & { description?: string; stock?: number } = {}): string {
    const id = input.id ?? crypto.randomUUID();
    const info: ProductInfo = {
      id, sku: input.sku ?? `SKU-${id.slice(0, 8)}`, name: input.name ?? `Product ${id.slice(0, 4)}`,
      category: input.category ?? "books", priceCents: input.priceCents ?? 1000, currency: input.currency ?? "EUR",
    };
    this.products.set(id, info);
    this.log.add(`product-${id}`, "ProductCreated", {
      productId: id, sku: info.sku, name: info.name, description: input.description ?? "", category: info.category,
      priceCents: info.priceCents, currency: info.currency, stock: input.stock ?? 10,
    }, at);
    return id;
  }

  /** ProductPriceChanged. */
  changePrice(at: string, productId: string, priceCents: number): void {
    this.products.get(productId)!.priceCents = priceCents;
    this.log.add(`product-${productId}`, "ProductPriceChanged", { productId, priceCents }, at);
  }

  /** ProductDetailsChanged with only the given fields. */
  changeDetails(at: string, productId: string, details: { name?: string; description?: string; category?: string }): void {
    const info = this.products.get(productId)!;
    if (details.name !== undefined) info.name = details.name;
    if (details.category !== undefined) info.category = details.category;
    this.log.add(`product-${productId}`, "ProductDetailsChanged", { productId, ...details }, at);
  }

  /** ProductStockAdjusted to an absolute stock. */
  adjustStock(at: string, productId: string, delta: number, stock: number): void {
    this.log.add(`product-${productId}`, "ProductStockAdjusted", { productId, delta, stock, reason: "" }, at);
  }

  /** ProductDiscontinued. */
  discontinue(at: string, productId: string): void {
    this.log.add(`product-${productId}`, "ProductDiscontinued", { productId }, at);
  }

  /** OrderPlaced for [productId, quantity] lines at the products' current state. */
  placeOrder(at: string, customerId: string, lines: [string, number][], id: string = crypto.randomUUID()): string {
    const orderLines: OrderLine[] = lines.map(([productId, quantity]) => {
      const p = this.products.get(productId)!;
      return { productId, sku: p.sku, name: p.name, category: p.category, quantity, unitPriceCents: p.priceCents, lineTotalCents: p.priceCents * quantity };
    });
    const currency = this.products.get(lines[0]![0])!.currency;
    const totalCents = orderLines.reduce((sum, line) => sum + line.lineTotalCents, 0);
    this.orders.set(id, { id, currency, lines: orderLines, totalCents, status: "placed", paidAt: null });
    this.log.add(`order-${id}`, "OrderPlaced", {
      orderId: id, customerId, currency, lines: orderLines, totalCents, itemCount: orderLines.reduce((sum, line) => sum + line.quantity, 0),
    }, at);
    return id;
  }

  /** OrderPaid with the order's sales lines. */
  pay(at: string, orderId: string, method = "card"): void {
    const order = this.orders.get(orderId)!;
    order.status = "paid";
    order.paidAt = at;
    this.log.add(`order-${orderId}`, "OrderPaid", {
      orderId, paymentId: crypto.randomUUID(), amountCents: order.totalCents, method, currency: order.currency, lines: salesLines(order.lines),
    }, at);
  }

  /** OrderShipped. */
  ship(at: string, orderId: string): void {
    this.orders.get(orderId)!.status = "shipped";
    this.log.add(`order-${orderId}`, "OrderShipped", { orderId, carrier: "DHL", trackingNumber: "TN-1" }, at);
  }

  /** OrderCancelled with previousStatus and paidAt as the decider would record them. */
  cancel(at: string, orderId: string, reason = ""): void {
    const order = this.orders.get(orderId)!;
    const previousStatus = order.status === "paid" ? "paid" : "placed";
    this.log.add(`order-${orderId}`, "OrderCancelled", {
      orderId, reason, previousStatus, paidAt: previousStatus === "paid" ? order.paidAt : null, currency: order.currency, lines: salesLines(order.lines),
    }, at);
    order.status = "cancelled";
  }
}

function salesLines(lines: readonly OrderLine[]): SalesLine[] {
  return lines.map((line) => ({ productId: line.productId, category: line.category, quantity: line.quantity, lineTotalCents: line.lineTotalCents }));
}
