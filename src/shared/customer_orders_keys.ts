/**
 * A customer's orders in Redis: per customer a lex-ordered set of all their orders and one
 * per status (src/shared/lex_order.ts; members: placedAt descending, then id descending),
 * and a hash of the customer-list items by member (the script reads an item by the member it
 * found, no id to derive). The orders projection writes them,
 * the customer-orders query reads a page of a set and the items in one script call.
 */
import { integerKey, integerOfKey, lexMember, parseLexMember } from "./lex_order.ts";
import { viewKey } from "./read_models.ts";

const ORDERS = "orders";

/** A customer's set of orders: every status (null) or one. */
export function customerSetKey(version: number, customerId: string, status: string | null): string {
  return viewKey(ORDERS, version, "cust", customerId, status ?? "all");
}

/** A customer's hash of list items (member → item bytes). */
export function customerItemsKey(version: number, customerId: string): string {
  return viewKey(ORDERS, version, "cust_items", customerId);
}

/** SCAN patterns of every customer set and item hash of a version (a views restore clears them first). */
export function customerPatterns(version: number): string[] {
  return [viewKey(ORDERS, version, "cust", "*"), viewKey(ORDERS, version, "cust_items", "*")];
}

/** The member of an order: placedAt (ISO, ms) descending, then id descending. */
export function orderMember(placedAt: string, id: string): string {
  return lexMember(integerKey(Date.parse(placedAt), true), id, true);
}

/** The cursor (placedAt ISO text, id) of a member, as the SQL path encodes it. */
export function cursorOfOrderMember(member: string): [string, string] {
  const { sortKey, id } = parseLexMember(member, true);
  return [new Date(integerOfKey(sortKey, true)).toISOString(), id];
}
