/**
 * Where a read's answer comes from: the Redis view when it has one, else the PostgreSQL
 * read table; the source is counted (view_reads_total) through QueryDeps.onViewRead.
 */
import type { QueryDeps } from "./deps.ts";

/** The answer from Redis (`fromView`, null: none) or else from the table, counting which one answered. */
export async function viewOrTable<T>(onViewRead: QueryDeps["onViewRead"], fromView: () => Promise<T | null>, fromTable: () => Promise<T>): Promise<T> {
  const cached = await fromView();
  if (cached !== null) {
    onViewRead?.("redis");
    return cached;
  }
  onViewRead?.("postgres");
  return fromTable();
}
