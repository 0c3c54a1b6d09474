/**
 * What the query side needs from the composition root: the PostgreSQL pool, the Redis
 * client (null when running without Redis views), the projection progress (for
 * X-Consistent-With), the serving version of each projection, and the wait bound.
 */
import type { Redis } from "ioredis";
import type { Pool } from "../db/pool.ts";
import type { ActiveVersions, ProgressWaiter } from "../shared/read_models.ts";
import type { ViewCache } from "./view_cache.ts";

export interface QueryDeps {
  pool: Pool;
  redis: Redis | null;
  /** Prepared views in process memory, coherent with Redis (null: every hot read asks Redis). */
  viewCache?: ViewCache | null;
  progress: ProgressWaiter;
  activeVersions: ActiveVersions;
  consistencyWaitMs: number;
  /** Counts a read served from a Redis view or, failing that, from PostgreSQL (the view_reads_total metric). */
  onViewRead?: (source: "memory" | "redis" | "postgres") => void;
}
