/**
 * What the read side shares between projections (which write) and queries (which read):
 * physical table names, Redis key names, and the framing of prepared views.
 * Projections and queries both import this; neither imports the other.
 */

/** Physical table name of a read-model table at a projection version. */
export function readTable(table: string, version: number): string {
  return `${table}_v${version}`;
}

/**
 * The sentinel key of a projection version's views: "1" while they are complete (written
 * by a finished restore); absent or a restore's token otherwise (Redis lost data, a restore
 * runs, or writes failed). Readers of view collections (list sets) check it.
 */
export function sentinelKey(projection: string, version: number): string {
  return `projections:sentinel:l${VIEWS_LAYOUT}:${projection}:v${version}`;
}

/**
 * The layout of the Redis views (which keys and collections a projection keeps), part of
 * the sentinel's name: bumped when views gain a collection (layout 2: list sets), so a
 * deployment whose views were complete under an older layout sees no sentinel, restores
 * them once from the rows, and meanwhile readers of the new collections ask PostgreSQL.
 */
export const VIEWS_LAYOUT = 2;

/** The Redis key of a view: `<projection>:v<version>:<parts…>`. */
export function viewKey(projection: string, version: number, ...parts: string[]): string {
  return `${projection}:v${version}:${parts.join(":")}`;
}

/**
 * A prepared view is framed as `<etag>\n<body>`: one GET returns both, and the body is
 * sent as it is (no parse, no stringify). The etag is quoted (`"…"`), ready for a header.
 */
export function frameView(etag: string, body: Buffer): Buffer {
  const head = Buffer.from(`${etag}\n`, "latin1");
  return Buffer.concat([head, body], head.length + body.length);
}

/** Splits a framed view into its etag and body without copying the body. */
export function unframeView(framed: Buffer): { etag: string; body: Buffer } | null {
  const newline = framed.indexOf(0x0a);
  if (newline <= 0) return null;
  return { etag: framed.toString("latin1", 0, newline), body: framed.subarray(newline + 1) };
}

/**
 * Tracks how far each projection has applied the log, for read-your-writes
 * (`X-Consistent-With`). Implemented by the projection runner; queries wait on it.
 */
export interface ProgressWaiter {
  /** Resolves true once every named projection's low watermark is at or past the position, false on timeout. */
  waitFor(projections: readonly string[], position: import("./position.ts").Position, timeoutMs: number): Promise<boolean>;
}

/** Which version of each projection is active (serving reads); changes atomically on a replay switch-over. */
export interface ActiveVersions {
  /** The serving version of a projection. */
  get(projection: string): number;
}
