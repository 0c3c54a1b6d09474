/**
 * A product as the catalog holds it (exactly the fields of the product answer) and its
 * conversion to and from a products row.
 */
import type { Row } from "../define.ts";
import { cellIso, cellNumber, cellString } from "../shared/cells.ts";

/** The product answer; field order is the order of the JSON answer. */
export interface Product {
  id: string;
  sku: string;
  name: string;
  description: string;
  category: string;
  priceCents: number;
  currency: string;
  stock: number;
  status: "active" | "discontinued";
  unitsSold: number;
  revenueCents: number;
  createdAt: string;
  updatedAt: string;
  version: number;
}

/** Reads the product fields of a row (as written or as loaded from PostgreSQL). */
export function rowToProduct(row: Row): Product {
  return {
    id: cellString(row, "id"),
    sku: cellString(row, "sku"),
    name: cellString(row, "name"),
    description: cellString(row, "description"),
    category: cellString(row, "category"),
    priceCents: cellNumber(row, "price_cents"),
    currency: cellString(row, "currency"),
    stock: cellNumber(row, "stock"),
    status: cellString(row, "status") === "discontinued" ? "discontinued" : "active",
    unitsSold: cellNumber(row, "units_sold"),
    revenueCents: cellNumber(row, "revenue_cents"),
    createdAt: cellIso(row, "created_at"),
    updatedAt: cellIso(row, "updated_at"),
    version: cellNumber(row, "version"),
  };
}

/** The row columns of a product; the prepared columns are left for finalize. */
export function productToRow(product: Product): Row {
  return {
    id: product.id,
    sku: product.sku,
    name: product.name,
    description: product.description,
    category: product.category,
    price_cents: product.priceCents,
    currency: product.currency,
    stock: product.stock,
    status: product.status,
    units_sold: product.unitsSold,
    revenue_cents: product.revenueCents,
    created_at: product.createdAt,
    updated_at: product.updatedAt,
    version: product.version,
    view: null,
    view_gz: null,
    etag: null,
  };
}

/**
 * The row with its sales counters moved by the given amounts and its prepared cells left for
 * finalize: every other cell as it is (a literal of the row's shape, not a spread, which went
 * megamorphic over rows of several origins and cost more than the product it saves).
 */
export function rowWithSales(row: Row, units: number, revenueCents: number): Row {
  return {
    id: row["id"] ?? null,
    sku: row["sku"] ?? null,
    name: row["name"] ?? null,
    description: row["description"] ?? null,
    category: row["category"] ?? null,
    price_cents: row["price_cents"] ?? null,
    currency: row["currency"] ?? null,
    stock: row["stock"] ?? null,
    status: row["status"] ?? null,
    units_sold: cellNumber(row, "units_sold") + units,
    revenue_cents: cellNumber(row, "revenue_cents") + revenueCents,
    created_at: row["created_at"] ?? null,
    updated_at: row["updated_at"] ?? null,
    version: row["version"] ?? null,
    view: null,
    view_gz: null,
    etag: null,
  };
}

/** The best-sellers item of a product, `{ productId, sku, name, unitsSold, revenueCents }`. */
export function bestSellerItem(product: Product): { productId: string; sku: string; name: string; unitsSold: number; revenueCents: number } {
  return { productId: product.id, sku: product.sku, name: product.name, unitsSold: product.unitsSold, revenueCents: product.revenueCents };
}
