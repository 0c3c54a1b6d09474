/**
 * What a projection is: a pure, per-row fold from events to read-model rows, plus the
 * tables those rows live in and the Redis views derived from them. The runner owns all
 * I/O (loading rows, writing them with multi-row statements, checkpoints, Redis, workers).
 *
 * Rows are folded independently: an event names the rows it touches (`touches`), and
 * each touched row is folded from its own previous state and the event (`reduce`). This
 * is what lets the runner partition by row key and apply partitions in parallel while
 * keeping per-row order, and it makes replay deterministic.
 */
import type { RecordedEvent } from "../event_store/types.ts";

/** A column value as the runner reads it from and writes it to PostgreSQL. */
export type CellValue = string | number | boolean | Buffer | null;
export type Row = Record<string, CellValue>;

export type ColumnType = "text" | "uuid" | "int" | "bigint" | "timestamptz" | "date" | "bytea" | "boolean" | "jsonb";

/** One read-model table. Physical name: `${table}_v${version}` (see tableName). */
export interface TableModel {
  /** Logical name, unique within the projection, e.g. "products". */
  table: string;
  /** Single key column (text or uuid); rows are addressed by its string value. */
  key: string;
  /** Every column, key included, in order. */
  columns: ReadonlyArray<{ name: string; type: ColumnType }>;
  /** Index DDL for the physical table name; created after a bulk load on replay. */
  indexes(physical: string): string[];
}

/** A write to a Redis view. Values are absolute (idempotent when repeated). */
export type ViewOp =
  /**
   * With `etag`, the value stored is a framed view, `<etag>\n` and then `value` (frameView):
   * a writer puts the two together as it sends them, with no framed copy made first.
   */
  | { op: "set"; key: string; value: Buffer; etag?: string }
  | { op: "del"; key: string }
  | { op: "zadd"; key: string; score: number; member: string }
  | { op: "zrem"; key: string; member: string }
  | { op: "hset"; key: string; field: string; value: Buffer }
  | { op: "hdel"; key: string; field: string };

export interface RowRef {
  table: string;
  key: string;
}

export interface ProjectionDefinition {
  name: string;
  /** Bump to rebuild into new tables and Redis keys (blue/green replay). */
  version: number;
  /** Event types this projection reads; others are skipped without I/O. */
  handles: ReadonlySet<string>;
  tables: readonly TableModel[];
  /** The rows an event touches. Pure. */
  touches(event: RecordedEvent): RowRef[];
  /**
   * Folds one event into one row. `row` is the row's current state (undefined: absent).
   * Returns the new state, or undefined to delete the row. Pure: only this row and the event.
   */
  reduce(ref: RowRef, row: Row | undefined, event: RecordedEvent): Row | undefined;
  /**
   * Called once per changed row at the end of a batch, before writing: fills derived
   * columns (prepared view bytes, etag). Pure.
   */
  finalize?(table: string, row: Row): Row;
  /**
   * The row as a bulk build keeps it in memory after writing it, until an event touches it
   * again (default: the row as written). It must keep what reduce() needs and what views()
   * reads of `previous`; derived bytes it drops are made again by finalize() at the row's
   * next write. Pure.
   */
  compact?(table: string, row: Row): Row;
  /**
   * True when no event is expected to change the row again (an order shipped or cancelled):
   * a bulk build lets such rows go first when it keeps more than its budget. A hint only: a
   * settled row touched again is read back from PostgreSQL. Pure.
   */
  settled?(table: string, row: Row): boolean;
  /**
   * True when reduce() returns the row itself, unchanged, for an event the row already
   * reflects (an order row keeps its stream's version). A bulk build may then hold rows that
   * are not settled() back across flushes, writing each once its events are in (HOLD_EVENTS
   * in src/projections/bulk/build.ts): its watermark stays before their first events, and a
   * build resumed from there folds events that rows already written take as no-ops.
   */
  ignoresRedelivery?: boolean;
  /**
   * The Redis writes that make the views match the final row (undefined: deleted).
   * `previous` is the row before the batch, for moves (e.g. a category change).
   * `version` is the projection version being written (keys are versioned).
   */
  views?(table: string, key: string, row: Row | undefined, previous: Row | undefined, version: number): ViewOp[];
  /**
   * SCAN patterns (without the client's key prefix) of view collections (sets, hashes)
   * whose members views() removes only given the previous row: a restore from the rows
   * deletes them first, so nothing stale survives it. Until the restore completes, readers
   * of such collections must see the version's sentinel missing and ask PostgreSQL.
   */
  viewCollections?(version: number): string[];
  /**
   * Fixed number of row partitions applied in parallel (default 8). Changing it for a
   * version invalidates that version's checkpoints; bump the version instead.
   */
  partitions?: number;
  /** What to do with an event that keeps failing: park it and go on (default), or stop the projection. */
  onError?: "park" | "stop";
  /**
   * Anything beyond the read model (e-mails, webhooks, messages). The runner calls it in
   * live mode only, after the event's rows committed, in log order, at least once but
   * never again after its position was recorded (one position per projection, across
   * versions). A replay (rebuilding history into a new version) never calls it.
   */
  sideEffects?(event: RecordedEvent, context: SideEffectContext): Promise<void> | void;
}

/** What the runner tells a side effect. */
export interface SideEffectContext {
  projection: string;
  /** Physical version whose rows the event was just applied to. */
  version: number;
  signal: AbortSignal;
}

/** Physical table name for a projection table at a version. */
export function tableName(table: string, version: number): string {
  return `${table}_v${version}`;
}

/** Declares a projection; returns it unchanged (a typed anchor for definitions). */
export function defineProjection(definition: ProjectionDefinition): ProjectionDefinition {
  return definition;
}

/**
 * Where a projection definition lives, so a worker thread can import it by itself
 * (functions cannot cross thread boundaries): a module URL and the export's name.
 */
export interface ProjectionModuleRef {
  name: string;
  url: string;
  exportName: string;
}
