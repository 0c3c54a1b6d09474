/**
 * Low watermarks: the position up to which every partition of a projection version has
 * applied the log, stored in `projections` and announced with NOTIFY on CHANNEL.
 */
import { isConnectionError, type Pool } from "../../db/pool.ts";
import { encodePosition, parsePosition, START, type Position } from "../../shared/position.ts";
import { backoffMs, sleep } from "./backoff.ts";

export const PROGRESS_CHANNEL = "projection_progress";
/** Channel announcing a switch of serving version: payload `<name> <version>`. */
export const ACTIVE_CHANNEL = "projection_active";

/** Reads a projection version's low watermark (START when none is recorded). */
export async function readWatermark(pool: Pool, name: string, version: number): Promise<Position> {
  const result = await pool.query<{ position: string }>("SELECT position FROM projections WHERE name = $1 AND version = $2", [name, version]);
  return parsePosition(result.rows[0]?.position ?? "0-0") ?? START;
}

/** Reads a projection version's low watermark and the number of log events consumed up to it. */
export async function readProgress(pool: Pool, name: string, version: number): Promise<{ position: Position; consumed: number }> {
  const result = await pool.query<{ position: string; events_done: string }>("SELECT position, events_done FROM projections WHERE name = $1 AND version = $2", [name, version]);
  const row = result.rows[0];
  return { position: parsePosition(row?.position ?? "0-0") ?? START, consumed: Number(row?.events_done ?? 0) };
}

/** Parses a progress notification payload. */
export function parseProgress(payload: string): { name: string; version: number; position: Position } | null {
  const [name, version, wire] = payload.split(" ");
  const position = wire ? parsePosition(wire) : null;
  if (!name || !version || !position) return null;
  return { name, version: Number(version), position };
}

/** Least time between two watermark writes of a pool (all the projections it writes for). */
export const MARK_SPACING_MS = 25;

interface PendingMark {
  name: string;
  version: number;
  position: Position;
  consumed: number | null;
  settle: { resolve(): void; reject(error: unknown): void };
  done: Promise<void>;
}

/**
 * The watermarks of every projection loop writing through one pool, written together: one
 * statement (one transaction, one round trip) for the marks that arrived since the last,
 * at most one in flight and at most one every MARK_SPACING_MS. While each of a service's
 * three loops wrote its own (every 25 ms each), a placed order at 100 orders/s cost 7.5
 * PostgreSQL transactions, 6.0 with them written together (each write's NOTIFY also wakes
 * every listening backend). A mark waits for the shared write as it waited for its own
 * loop's before (at most MARK_SPACING_MS once the writer is idle).
 */
export class WatermarkWriter {
  readonly #pool: Pool;
  readonly #pending = new Map<string, PendingMark>();
  #running: Promise<void> | null = null;
  #writtenAt = Number.NEGATIVE_INFINITY;

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  /**
   * Queues a projection version's watermark (replacing one of the same version not yet
   * written); resolves once a write that includes it has committed, rejects when that
   * write failed for good (not a connection error, or still failing after 100 retries).
   */
  write(name: string, version: number, position: Position, consumed?: number): Promise<void> {
    const key = `${name} ${version}`;
    const queued = this.#pending.get(key);
    if (queued) {
      queued.position = position;
      queued.consumed = consumed ?? queued.consumed;
      return queued.done;
    }
    let settle!: PendingMark["settle"];
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    this.#pending.set(key, { name, version, position, consumed: consumed ?? null, settle, done });
    this.#running ??= this.#run();
    return done;
  }

  /**
   * Writes until nothing is queued. #running is cleared in the same step that finds the
   * queue empty (no await between): a mark queued by the continuation of a caller this run
   * settled then starts a new run instead of waiting for one that has ended.
   */
  async #run(): Promise<void> {
    try {
      while (this.#pending.size > 0) {
        const wait = this.#writtenAt + MARK_SPACING_MS - performance.now();
        if (wait > 0) await sleep(wait);
        const marks = [...this.#pending.values()];
        this.#pending.clear();
        let failure: unknown = null;
        for (let attempt = 0; ; attempt++) {
          try {
            await writeWatermarks(this.#pool, marks);
            break;
          } catch (error) {
            if (!isConnectionError(error) || attempt > 100) {
              failure = error;
              break;
            }
            await sleep(backoffMs(attempt));
          }
        }
        this.#writtenAt = performance.now();
        for (const mark of marks) {
          if (failure === null) mark.settle.resolve();
          else mark.settle.reject(failure);
        }
      }
    } finally {
      this.#running = null;
    }
  }
}

const writers = new WeakMap<Pool, WatermarkWriter>();

/** The watermark writer shared by every loop that writes through `pool`. */
export function watermarkWriter(pool: Pool): WatermarkWriter {
  let writer = writers.get(pool);
  if (!writer) {
    writer = new WatermarkWriter(pool);
    writers.set(pool, writer);
  }
  return writer;
}

/**
 * Stores projection versions' low watermarks (and, where given, the events consumed up to
 * them) in one transaction and notifies listeners of each (`<name> <version> <position>`).
 */
async function writeWatermarks(pool: Pool, marks: readonly Pick<PendingMark, "name" | "version" | "position" | "consumed">[]): Promise<void> {
  await pool.query({
    // Prepared once per connection (a live service writes several watermarks a second).
    name: "watermarks_write",
    // Asynchronous commit (transaction-local): a watermark lost in a crash is recomputed
    // from the partition checkpoints' work being redone; nothing waits for its WAL flush.
    text: `WITH async AS (SELECT set_config('synchronous_commit', 'off', true)),
          marks AS (SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[]) AS m(name, version, position, consumed)),
          updated AS (UPDATE projections p SET position = m.position, events_done = COALESCE(m.consumed, p.events_done), updated_at = now()
                        FROM marks m WHERE p.name = m.name AND p.version = m.version)
     SELECT pg_notify($5, m.name || ' ' || m.version::text || ' ' || m.position) FROM marks m, async`,
    values: [marks.map((m) => m.name), marks.map((m) => m.version), marks.map((m) => encodePosition(m.position)), marks.map((m) => m.consumed), PROGRESS_CHANNEL],
  });
}
