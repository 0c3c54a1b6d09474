/**
 * What the query side needs from the composition root: the PostgreSQL pool, the Redis
 * client (null when running without Redis views), the projection progress (for
 * X-Consistent-With), the serving version of each projection, and the wait bound.
 */
import type { Redis } from "ioredis";
import type { Pool } from "../db/pool.ts";
import type { ActiveVersions, ProgressWaiter } from "../shared/read_models.ts";

export interface QueryDeps {
  pool: Pool;
  redis: Redis | null;
  progress: ProgressWaiter;
  activeVersions: ActiveVersions;
  consistencyWaitMs: number;
  /** Counts a read served from a Redis view or, failing that, from PostgreSQL (the view_reads_total metric). */
  onViewRead?: (source: "redis" | "postgres") => void;
}
