/**
 * The product list in Redis: per status, sort, and category (and for all categories), a
 * lex-ordered sorted set (src/shared/lex_order.ts) whose members are the sort key and the
 * product id, so ZRANGEBYLEX walks a list page in exactly the order the SQL gives
 * (newest: createdAt desc; price_asc; price_desc; best_selling: unitsSold desc; ties by id
 * ascending) and a cursor maps to an exclusive start member. The projection writes the sets
 * (product_catalog views), the list query reads them.
 */
import { integerKey, integerOfKey, lexMember, parseLexMember } from "./lex_order.ts";
import { viewKey } from "./read_models.ts";

export type ListSort = "newest" | "price_asc" | "price_desc" | "best_selling";
export const LIST_SORTS: readonly ListSort[] = ["newest", "price_asc", "price_desc", "best_selling"];
export type ListStatus = "active" | "discontinued";

/** What a product's list positions depend on. */
export interface ListedProduct {
  id: string;
  status: ListStatus;
  category: string;
  /** ISO time with ms. */
  createdAt: string;
  priceCents: number;
  unitsSold: number;
}

const DESCENDING: Record<ListSort, boolean> = { newest: true, price_asc: false, price_desc: true, best_selling: true };

/** The set of one status and sort, for one category or (null) all categories. */
export function listSetKey(version: number, status: ListStatus, sort: ListSort, category: string | null): string {
  return category === null ? viewKey("product_catalog", version, "plist", status, sort, "all") : viewKey("product_catalog", version, "plist", status, sort, "c", category);
}

/** SCAN pattern of every list set of a version (a views restore clears them first). */
export function listSetPattern(version: number): string {
  return viewKey("product_catalog", version, "plist", "*");
}

function sortValue(sort: ListSort, product: ListedProduct): number {
  if (sort === "newest") return Date.parse(product.createdAt);
  if (sort === "best_selling") return product.unitsSold;
  return product.priceCents;
}

/** The member of a product in a set of the given sort. */
export function listMember(sort: ListSort, product: ListedProduct): string {
  return lexMember(integerKey(sortValue(sort, product), DESCENDING[sort]), product.id);
}

/** Every (set, member) a product belongs to: each sort, its category's set and the all-categories set. */
export function listEntries(version: number, product: ListedProduct): Array<{ key: string; member: string }> {
  const entries: Array<{ key: string; member: string }> = [];
  for (const sort of LIST_SORTS) {
    const member = listMember(sort, product);
    entries.push({ key: listSetKey(version, product.status, sort, product.category), member }, { key: listSetKey(version, product.status, sort, null), member });
  }
  return entries;
}

/** The cursor key (as the SQL path encodes it: ISO text for newest, a number otherwise) and id of a member. */
export function cursorOfMember(sort: ListSort, member: string): [string | number, string] {
  const { sortKey, id } = parseLexMember(member);
  const value = integerOfKey(sortKey, DESCENDING[sort]);
  return [sort === "newest" ? new Date(value).toISOString() : value, id];
}

/** The member a cursor (key, id) stands for: the page starts after it. */
export function memberOfCursor(sort: ListSort, cursor: readonly [string | number, string]): string {
  const [key, id] = cursor;
  const value = sort === "newest" ? Date.parse(String(key)) : Number(key);
  return lexMember(integerKey(value, DESCENDING[sort]), id);
}
