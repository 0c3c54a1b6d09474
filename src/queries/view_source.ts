/**
 * Where a read's answer comes from: the Redis view (or the process's copy of it) when it has
 * one, else the PostgreSQL read table; the source is counted (view_reads_total) through QueryDeps.onViewRead.
 */
import type { QueryDeps } from "./deps.ts";

/** Where a view's answer came from: Redis, or the process's in-memory copy of it. */
export type ViewSource = "memory" | "redis";

/**
 * The answer from the views (`fromView`, null: none) or else from the table, counting which
 * one answered; `sourceOf` tells a view answer's source (default Redis).
 */
export async function viewOrTable<T, V extends T>(
  onViewRead: QueryDeps["onViewRead"],
  fromView: () => Promise<V | null>,
  fromTable: () => Promise<T>,
  sourceOf: (viewed: V) => ViewSource = () => "redis",
): Promise<T> {
  const cached = await fromView();
  if (cached !== null) {
    onViewRead?.(sourceOf(cached));
    return cached;
  }
  onViewRead?.("postgres");
  return fromTable();
}
