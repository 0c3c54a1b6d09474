/**
 * Daily sales in Redis: lex-ordered sets of the rows (all categories, and one per category)
 * whose members are `<day>\0<category>\0<currency>` — byte order is the answer's order (date,
 * then category and currency in byte order; \0 sorts before every character a category or
 * currency can hold, so "home" comes before "home-garden" as in SQL) — and one hash of the
 * prepared item bytes by member. The daily_sales projection writes them; the query reads a
 * date range of a set and its items in one script call.
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

/** SCAN patterns of the version's sets and hash (a views restore clears them first). */
export function dailyPatterns(version: number): string[] {
  return [viewKey(DAILY_SALES, version, "days", "*"), dailyItemsKey(version)];
}

/** The member of a row. */
export function dailyMember(day: string, category: string, currency: string): string {
  return `${day}\u0000${category}\u0000${currency}`;
}
