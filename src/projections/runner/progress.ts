/**
 * ProgressWaiter and ActiveVersions for the query side. Progress comes from the
 * in-process runner (advance) and from LISTEN on the progress channel, so an API process
 * that does not lead a projection sees progress too; a wait never polls the database.
 */
import pg from "pg";
import type { Logger } from "pino";
import type { Pool } from "../../db/pool.ts";
import { comparePositions, parsePosition, type Position } from "../../shared/position.ts";
import type { ActiveVersions, ProgressWaiter } from "../../shared/read_models.ts";
import { sleep } from "./backoff.ts";
import { ACTIVE_CHANNEL, parseProgress, PROGRESS_CHANNEL, readWatermark } from "./watermark.ts";

interface Waiter {
  projections: readonly string[];
  position: Position;
  resolve(reached: boolean): void;
}

type ActiveListener = (projection: string, version: number) => void;

/** The serving version of each projection, loaded from `projection_active` and kept current by NOTIFY. */
export class ActiveVersionTable implements ActiveVersions {
  #versions: Map<string, number>;
  #listeners = new Set<ActiveListener>();

  constructor(defaults: ReadonlyMap<string, number>) {
    this.#versions = new Map(defaults);
  }

  get(projection: string): number {
    const version = this.#versions.get(projection);
    if (version === undefined) throw new Error(`Unknown projection ${projection}`);
    return version;
  }

  /** Sets a projection's serving version; listeners hear of a change. */
  set(projection: string, version: number): void {
    if (this.#versions.get(projection) === version) return;
    this.#versions.set(projection, version);
    for (const listener of this.#listeners) listener(projection, version);
  }

  /** Calls `listener` on every change of a serving version; returns the unsubscribe function. */
  onChange(listener: ActiveListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reloads every serving version from the database. */
  async refresh(pool: Pool): Promise<void> {
    const result = await pool.query<{ name: string; version: number }>("SELECT name, version FROM projection_active");
    for (const row of result.rows) this.set(row.name, row.version);
  }
}

/** Low watermarks of the serving versions, with waiters. */
export class ProgressTracker implements ProgressWaiter {
  #positions = new Map<string, Position>();
  #waiters = new Set<Waiter>();
  #active: ActiveVersions;

  constructor(active: ActiveVersions) {
    this.#active = active;
  }

  /** The known low watermark of a projection's serving version, if any. */
  position(projection: string): Position | undefined {
    return this.#positions.get(projection);
  }

  /** Records progress of a projection version; ignores versions that do not serve and positions that go back. */
  advance(projection: string, version: number, position: Position): void {
    let active: number;
    try {
      active = this.#active.get(projection);
    } catch {
      return;
    }
    if (version !== active) return;
    const known = this.#positions.get(projection);
    if (known && comparePositions(known, position) >= 0) return;
    this.#positions.set(projection, position);
    for (const waiter of this.#waiters) {
      if (this.#reached(waiter.projections, waiter.position)) waiter.resolve(true);
    }
  }

  waitFor(projections: readonly string[], position: Position, timeoutMs: number): Promise<boolean> {
    if (this.#reached(projections, position)) return Promise.resolve(true);
    if (timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        projections,
        position,
        resolve: (reached) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(reached);
        },
      };
      const timer = setTimeout(() => waiter.resolve(false), timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Loads the stored watermarks of the serving versions. */
  async load(pool: Pool): Promise<void> {
    const result = await pool.query<{ name: string; version: number; position: string }>(
      "SELECT p.name, p.version, p.position FROM projections p JOIN projection_active a ON a.name = p.name AND a.version = p.version",
    );
    for (const row of result.rows) {
      const position = parsePosition(row.position);
      if (position) this.advance(row.name, row.version, position);
    }
  }

  /** Forgets a projection's watermark (its serving version changed) and loads the new version's. */
  async switchTo(pool: Pool, projection: string, version: number): Promise<void> {
    this.#positions.delete(projection);
    this.advance(projection, version, await readWatermark(pool, projection, version));
  }

  /** LISTENs for progress and switch-overs on a dedicated connection until the signal aborts, reconnecting after errors. */
  async listen(options: { connectionString: string; pool: Pool; signal: AbortSignal; logger: Logger; active?: ActiveVersionTable; onListening?: () => void }): Promise<void> {
    const { signal } = options;
    while (!signal.aborted) {
      const client = new pg.Client({ connectionString: options.connectionString, application_name: "projection-progress", keepAlive: true });
      // One abort listener per connection, removed when it ends: added on the long-lived signal
      // and never removed, they piled up one per reconnect (Node's MaxListenersExceededWarning
      // after ten seconds of a PostgreSQL outage).
      let onAbort = (): void => undefined;
      const ended = new Promise<void>((resolve) => {
        client.on("error", () => resolve());
        client.on("end", () => resolve());
        onAbort = () => resolve();
        signal.addEventListener("abort", onAbort, { once: true });
      });
      client.on("notification", (message) => {
        if (message.channel === ACTIVE_CHANNEL && message.payload) {
          const [name, version] = message.payload.split(" ");
          if (name && version) this.#activate(options, name, Number(version));
          return;
        }
        const progress = message.channel === PROGRESS_CHANNEL && message.payload ? parseProgress(message.payload) : null;
        if (progress) this.advance(progress.name, progress.version, progress.position);
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${PROGRESS_CHANNEL}`);
        await client.query(`LISTEN ${ACTIVE_CHANNEL}`);
        if (options.active) {
          const before = new Map<string, number>();
          const stop = options.active.onChange((name, version) => before.set(name, version));
          await options.active.refresh(options.pool).finally(stop);
          for (const [name, version] of before) await this.switchTo(options.pool, name, version);
        }
        await this.load(options.pool);
        options.onListening?.();
        await ended;
      } catch (error) {
        if (!signal.aborted) options.logger.warn({ error: (error as Error).message }, "progress listener lost; reconnecting");
      } finally {
        signal.removeEventListener("abort", onAbort);
        await client.end().catch(() => undefined);
      }
      if (!signal.aborted) await sleep(1000, signal).catch(() => undefined);
    }
  }

  #activate(options: { pool: Pool; logger: Logger; active?: ActiveVersionTable }, name: string, version: number): void {
    if (!options.active) return;
    let known: number | undefined;
    try {
      known = options.active.get(name);
    } catch {
      known = undefined;
    }
    if (known === version) return;
    options.active.set(name, version);
    options.logger.info({ projection: name, version }, "serving version switched");
    this.switchTo(options.pool, name, version).catch((error: unknown) => options.logger.warn({ projection: name, error: (error as Error).message }, "loading the new version's watermark failed"));
  }

  #reached(projections: readonly string[], position: Position): boolean {
    return projections.every((name) => {
      const known = this.#positions.get(name);
      return known !== undefined && comparePositions(known, position) >= 0;
    });
  }
}
