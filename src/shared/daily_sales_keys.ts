/**
 * Daily sales in Redis: lex-ordered sets of the rows (all categories, and one per category)
 * whose members are `<day>\0<category>\0<currency>` — byte order is the answer's order (date,
 * then category and currency in byte order; \0 sorts before every character a category or
 * currency can hold, so "home" comes before "home-garden" as in SQL) — and one hash of the
 * prepared item bytes by member. The daily_sales projection writes them; the query reads a
 * date range of a set and its items in one script call.
 *
 * A third key is a cache the query fills: one hash of day blobs (a set's items of one day,
 * joined by commas) by `<category or "">\0<day>`. Every write of a row deletes its day's
 * blobs in the same transaction, so a blob is never older than the items it joins; a range's
 * answer is then a concatenation of at most 367 blobs instead of an item per row (a 30-day
 * range over all categories: 1,800 items, 2.8 ms of Redis's single thread, every other read
 * waiting behind it). The hash expires a few minutes after the query first fills it
 * (src/queries/daily_sales.ts).
 */
import { viewKey } from "./read_models.ts";

const DAILY_SALES = "daily_sales";

/** The set of every row (category null) or of one category's rows. */
export function dailySetKey(version: number, category: string | null): string {
  return category === null ? viewKey(DAILY_SALES, version, "days", "all") : viewKey(DAILY_SALES, version, "days", "c", category);
}

/** The hash of item bytes by member. */
export function dailyItemsKey(version: number): string {
  return viewKey(DAILY_SALES, version, "day_items");
}

/** The hash of day blobs (the query's cache; the projection deletes a day's blobs when it writes the day). */
export function dailyBlobsKey(version: number): string {
  return viewKey(DAILY_SALES, version, "day_blobs");
}

/** The field of a set's (category null: all categories) blob of one day. */
export function dailyBlobField(category: string | null, day: string): string {
  return `${category ?? ""}\u0000${day}`;
}

/** SCAN patterns of the version's sets and hashes (a views restore clears them first). */
export function dailyPatterns(version: number): string[] {
  return [viewKey(DAILY_SALES, version, "days", "*"), dailyItemsKey(version), dailyBlobsKey(version)];
}

/** The member of a row. */
export function dailyMember(day: string, category: string, currency: string): string {
  return `${day}\u0000${category}\u0000${currency}`;
}
