/**
 * Request schemas for product commands (strict: unknown fields are a 400). The same
 * schemas validate requests and document them in /openapi.json.
 */
import { z } from "zod";
import { storableText, uuid } from "../common_schemas.ts";

export const skuSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be 1..64 of A-Z a-z 0-9 . _ -, starting with a letter or digit");
export const nameSchema = storableText().trim().min(1, "must not be empty").max(200);
export const descriptionSchema = storableText().max(5000);
export const categorySchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "must match ^[a-z0-9][a-z0-9-]{0,63}$");
export const priceCentsSchema = z.number().int().min(0).max(100_000_000);

/** Body of `POST /v1/products`. */
export const createProductBody = z.strictObject({
  id: uuid.optional(),
  sku: skuSchema,
  name: nameSchema,
  description: descriptionSchema.default(""),
  category: categorySchema,
  priceCents: priceCentsSchema,
  currency: z.string().regex(/^[A-Z]{3}$/, "must be three upper-case letters").default("EUR"),
  stock: z.number().int().min(0).max(1_000_000).default(0),
});

/** Body of `POST /v1/products/{id}/price`. */
export const changePriceBody = z.strictObject({ priceCents: priceCentsSchema });

/** Body of `POST /v1/products/{id}/details`: at least one field. */
export const changeDetailsBody = z
  .strictObject({ name: nameSchema.optional(), description: descriptionSchema.optional(), category: categorySchema.optional() })
  .refine((body) => body.name !== undefined || body.description !== undefined || body.category !== undefined, {
    message: "at least one of name, description, category is required",
  });

/** Body of `POST /v1/products/{id}/stock`. */
export const adjustStockBody = z.strictObject({
  delta: z.number().int().min(-1_000_000).max(1_000_000).refine((delta) => delta !== 0, "must not be zero").meta({ description: "Non-zero: 0 is a 400", not: { const: 0 } }),
  reason: storableText().max(200).default(""),
});

/** Body of `POST /v1/products/{id}/discontinue` (no fields). */
export const discontinueBody = z.strictObject({});
