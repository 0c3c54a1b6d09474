/**
 * Request schemas for order commands (strict: unknown fields are a 400). The same
 * schemas validate requests and document them in /openapi.json.
 */
import { z } from "zod";
import { storableText, uuid } from "../common_schemas.ts";

const orderLine = z.strictObject({ productId: uuid, quantity: z.number().int().min(1).max(1000) });

/** Body of `POST /v1/orders`: 1..100 lines, no productId twice. */
export const placeOrderBody = z
  .strictObject({ id: uuid.optional(), customerId: uuid, lines: z.array(orderLine).min(1).max(100) })
  .superRefine((body, ctx) => {
    const seen = new Set<string>();
    body.lines.forEach((line, index) => {
      if (seen.has(line.productId)) ctx.addIssue({ code: "custom", path: ["lines", index, "productId"], message: "product already appears in an earlier line" });
      seen.add(line.productId);
    });
  });

/** Body of `POST /v1/orders/{id}/pay`. */
export const payOrderBody = z.strictObject({
  paymentId: uuid,
  amountCents: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  method: z.enum(["card", "paypal", "bank_transfer"]),
});

const label = storableText().trim().min(1, "must not be empty").max(64);

/** Body of `POST /v1/orders/{id}/ship`. */
export const shipOrderBody = z.strictObject({ carrier: label, trackingNumber: label });

/** Body of `POST /v1/orders/{id}/cancel`. */
export const cancelOrderBody = z.strictObject({ reason: storableText().max(200).default("") });
