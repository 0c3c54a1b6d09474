/**
 * The domain events: the one contract the write side appends and the read side folds.
 * Events are past tense and never renamed; a changed shape gets an upcaster, not an edit.
 * `occurredAt` lives in the event metadata, not in the data.
 */

export type Currency = string;

// ---- products (stream `product-<productId>`) ----

export interface ProductCreated {
  type: "ProductCreated";
  data: {
    productId: string;
    sku: string;
    name: string;
    description: string;
    category: string;
    priceCents: number;
    currency: Currency;
    stock: number;
  };
}

export interface ProductPriceChanged {
  type: "ProductPriceChanged";
  data: { productId: string; priceCents: number };
}

/** Carries only the fields that changed. */
export interface ProductDetailsChanged {
  type: "ProductDetailsChanged";
  data: { productId: string; name?: string; description?: string; category?: string };
}

export interface ProductStockAdjusted {
  type: "ProductStockAdjusted";
  data: { productId: string; delta: number; stock: number; reason: string };
}

export interface ProductDiscontinued {
  type: "ProductDiscontinued";
  data: { productId: string };
}

export type ProductEvent =
  | ProductCreated
  | ProductPriceChanged
  | ProductDetailsChanged
  | ProductStockAdjusted
  | ProductDiscontinued;

// ---- sku reservations (stream `sku-<sku>`): uniqueness across processes ----

export interface SkuReserved {
  type: "SkuReserved";
  data: { sku: string; productId: string };
}

/** A reservation whose product was never created (compensation). */
export interface SkuReleased {
  type: "SkuReleased";
  data: { sku: string; productId: string };
}

export type SkuEvent = SkuReserved | SkuReleased;

// ---- orders (stream `order-<orderId>`) ----

/** An order line as captured at placement: the product's state at that moment. */
export interface OrderLine {
  productId: string;
  sku: string;
  name: string;
  category: string;
  quantity: number;
  unitPriceCents: number;
  lineTotalCents: number;
}

/** The part of a line that sales read models need (event-carried, so they need no lookup). */
export interface SalesLine {
  productId: string;
  category: string;
  quantity: number;
  lineTotalCents: number;
}

export interface OrderPlaced {
  type: "OrderPlaced";
  data: {
    orderId: string;
    customerId: string;
    currency: Currency;
    lines: OrderLine[];
    totalCents: number;
    itemCount: number;
  };
}

export type PaymentMethod = "card" | "paypal" | "bank_transfer";

/** Carries the order's sales lines so sales projections need no state of their own. */
export interface OrderPaid {
  type: "OrderPaid";
  data: {
    orderId: string;
    paymentId: string;
    amountCents: number;
    method: PaymentMethod;
    currency: Currency;
    lines: SalesLine[];
  };
}

export interface OrderShipped {
  type: "OrderShipped";
  data: { orderId: string; carrier: string; trackingNumber: string };
}

/**
 * `paidAt` is the occurredAt of the OrderPaid event when the order had been paid
 * (so sales can be taken out of the day they were counted), else null.
 */
export interface OrderCancelled {
  type: "OrderCancelled";
  data: {
    orderId: string;
    reason: string;
    previousStatus: "placed" | "paid";
    paidAt: string | null;
    currency: Currency;
    lines: SalesLine[];
  };
}

export type OrderEvent = OrderPlaced | OrderPaid | OrderShipped | OrderCancelled;

export type DomainEvent = ProductEvent | SkuEvent | OrderEvent;
export type DomainEventType = DomainEvent["type"];

/** Stream id helpers: one naming scheme for both sides. */
export const streams = {
  product: (productId: string): string => `product-${productId}`,
  sku: (sku: string): string => `sku-${sku}`,
  order: (orderId: string): string => `order-${orderId}`,
};
