/**
 * Schemas of the query answers, for the OpenAPI document. The handlers never build
 * these objects: they send bytes prepared by the projections, which have these shapes.
 */
import { z } from "zod";

const timestamp = z.string().describe("ISO 8601 UTC with milliseconds");

/** `GET /v1/products/{id}` and list items. */
export const productAnswer = z.object({
  id: z.string(), sku: z.string(), name: z.string(), description: z.string(), category: z.string(),
  priceCents: z.number().int(), currency: z.string(), stock: z.number().int(),
  status: z.enum(["active", "discontinued"]), unitsSold: z.number().int(), revenueCents: z.number().int(),
  createdAt: timestamp, updatedAt: timestamp, version: z.number().int(),
});

/** `GET /v1/products`. */
export const productListAnswer = z.object({ items: z.array(productAnswer), nextCursor: z.string().nullable() });

/** `GET /v1/categories/{category}/best-sellers`. */
export const bestSellersAnswer = z.object({
  items: z.array(z.object({ productId: z.string(), sku: z.string(), name: z.string(), unitsSold: z.number().int(), revenueCents: z.number().int() })),
});

/** `GET /v1/orders/{id}`. */
export const orderAnswer = z.object({
  id: z.string(), customerId: z.string(), status: z.enum(["placed", "paid", "shipped", "cancelled"]), currency: z.string(),
  lines: z.array(z.object({
    productId: z.string(), sku: z.string(), name: z.string(),
    quantity: z.number().int(), unitPriceCents: z.number().int(), lineTotalCents: z.number().int(),
  })),
  totalCents: z.number().int(), itemCount: z.number().int(),
  payment: z.object({ paymentId: z.string(), amountCents: z.number().int(), method: z.enum(["card", "paypal", "bank_transfer"]), paidAt: timestamp }).nullable(),
  shipment: z.object({ carrier: z.string(), trackingNumber: z.string(), shippedAt: timestamp }).nullable(),
  cancellation: z.object({ reason: z.string(), cancelledAt: timestamp }).nullable(),
  placedAt: timestamp, updatedAt: timestamp, version: z.number().int(),
});

/** `GET /v1/customers/{customerId}/orders`. */
export const customerOrdersAnswer = z.object({
  items: z.array(z.object({
    id: z.string(), status: z.enum(["placed", "paid", "shipped", "cancelled"]), totalCents: z.number().int(),
    currency: z.string(), itemCount: z.number().int(), placedAt: timestamp, updatedAt: timestamp,
  })),
  nextCursor: z.string().nullable(),
});

/** `GET /v1/stats/daily-sales`. */
export const dailySalesAnswer = z.object({
  items: z.array(z.object({
    date: z.string(), category: z.string(), currency: z.string(),
    orders: z.number().int(), units: z.number().int(), revenueCents: z.number().int(),
  })),
});

/** Response headers every 200 of a query carries. */
export const QUERY_RESPONSE_HEADERS: Record<string, string> = {
  ETag: 'Strong etag of the answer bytes; a compressed answer\'s has its coding inside the quotes ("abc-gzip", "abc-br" for the bytes of "abc"). Send any of them back in If-None-Match for a 304',
  "Content-Encoding": "gzip or br when the body is over 1 KiB and Accept-Encoding allows one: the higher q wins; at equal q gzip when it is precomputed, else br",
  "Cache-Control": "no-cache (store, but revalidate)",
  Vary: "Accept-Encoding",
};
