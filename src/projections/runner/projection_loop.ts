/**
 * One projection's consumption loop while this process leads it: subscribe from the low
 * watermark, split each batch into partitions, run partitions on the worker pool (per
 * partition in order, across partitions in parallel), and advance the watermark when
 * every partition of a batch (and of every earlier batch) has committed. At most
 * `maxInFlight` batches are in flight, and the next batch is pulled only when one
 * finishes, so memory stays bounded however far behind the projection is.
 *
 * The loop writes one physical version (`deps.version`, default the definition's). In live
 * mode it fires the definition's side effects after each batch; a replay runs it with
 * `live: false` and never does.
 */
import type { Redis } from "ioredis";
import type { EventStore } from "../../event_store/types.ts";
import { comparePositions, START, type Position } from "../../shared/position.ts";
import { sentinelKey } from "../../shared/read_models.ts";
import type { ProjectionDefinition, ProjectionModuleRef } from "../define.ts";
import { isConnectionError } from "../../db/pool.ts";
import { BulkBuildError, visibleEventsAfter, type BulkBuilder } from "./bulk_builder.ts";
import { partitionCount, partitionGroups } from "./partition.ts";
import { runPartitions, type PartitionRunnerDeps } from "./partition_runner.ts";
import { deferIndexes, finishIndexes } from "./schema.ts";
import { SideEffects } from "./side_effects.ts";
import { dropVersionKeys } from "./retire.ts";
import { readProgress, watermarkWriter } from "./watermark.ts";

export interface LoopDeps extends Omit<PartitionRunnerDeps, "signal" | "onViewsFailed"> {
  store: EventStore;
  batchSize: number;
  /** Events per batch while views are deferred (bulk build over a backlog; default batchSize). */
  bulkBatchSize?: number;
  maxInFlight: number;
  /** About how many events one worker task gets: a batch is split into fewer tasks than partitions when small (default 1000). */
  eventsPerTask?: number;
  onProgress(position: Position): void;
  onViewsFailed(): void;
  /** Physical version written (default: the definition's version). */
  version?: number;
  /** Live mode fires side effects; a replay sets false (default true). */
  live?: boolean;
  /**
   * Redis views: "write" with every task (default); "defer": not until stopDeferringViews()
   * (a replay, which restores them from the rows once when it reached the head);
   * "defer-while-fresh": a version that has applied nothing yet skips them up to the head
   * found at start (a backlog), then calls onViewsDeferredEnd so the leader restores them from
   * the rows once (bulk build of a new projection over a long history).
   */
  views?: "write" | "defer" | "defer-while-fresh";
  /**
   * Bulk builds (PostgreSQL stores): a loop at least `bulk.minEvents` behind the head at
   * start first builds up to that head in bulk (see bulk_builder.ts), writing Redis views
   * unless they are deferred ("defer"), then goes on with batches. Not used in live mode by
   * a definition with side effects (they fire per batch).
   */
  bulk?: BulkBuilder;
  /** Called once when a "defer-while-fresh" loop starts writing views again. */
  onViewsDeferredEnd?(): void;
  /** Called when this run has asked `bulk` for a build or decided not to (may come twice: BulkBuilder.expect's answer counts once). */
  onBulkDecided?(): void;
  /**
   * Awaited before the first task that skips its views: the views stop being complete
   * (the leader withdraws the version's sentinel, so readers of view collections ask
   * PostgreSQL until the views are restored).
   */
  onViewsDeferredStart?(): Promise<void>;
}

const DEFAULT_EVENTS_PER_TASK = 1000;

export type LoopState = "starting" | "running" | "paused" | "failed" | "stopped";

export class ProjectionLoop {
  readonly definition: ProjectionDefinition;
  readonly module: ProjectionModuleRef;
  #deps: LoopDeps;
  #state: LoopState = "starting";
  #position: Position = START;
  #consumed = 0;
  #resumedFrom = 0;
  #read = 0;
  #progressKnown = false;
  #tail: Promise<void> = Promise.resolve();
  #gate: Promise<void> = Promise.resolve();
  #openGate: (() => void) | null = null;
  #holds = 0;
  /** True while a batch waits at the closed gate to start. */
  #batchWaiting = false;
  /** The latest watermark not written yet, the write in flight, and a write that failed for good. */
  #mark: { through: Position; consumed: number } | null = null;
  #marking: Promise<void> | null = null;
  #markFailure: unknown = null;
  #deferral: "always" | "backlog" | null = null;
  /** The head when a "backlog" deferral began: it ends there at the latest. */
  #backlogHead: Position = START;
  /** True while a bulk build runs (tasks are none, views are the build's). */
  #building = false;
  /** The version's Redis key space was cleared by this loop's owner while the version had applied nothing. */
  #viewsCleared = false;

  constructor(definition: ProjectionDefinition, module: ProjectionModuleRef, deps: LoopDeps) {
    this.definition = definition;
    this.module = module;
    this.#deps = deps;
  }

  get state(): LoopState {
    return this.#state;
  }

  get position(): Position {
    return this.#position;
  }

  /** The physical version this loop writes. */
  get version(): number {
    return this.#deps.version ?? this.definition.version;
  }

  /** True while tasks skip Redis views (they must not be checked or restored meanwhile). */
  get deferringViews(): boolean {
    return this.#deferral !== null || this.#building;
  }

  /**
   * Ends a "defer" run's deferral: batches pulled from now on write views. The caller
   * restores the earlier rows' views itself (after pause(), so nothing deferred is in flight).
   */
  stopDeferringViews(): void {
    this.#deferral = null;
  }

  /** Log events consumed (handled or not) up to the low watermark (announced; its write may trail by MARK_SPACING_MS), across restarts. */
  get consumed(): number {
    return this.#consumed;
  }

  /** Log events read so far, applied and committed or not (at least `consumed`): for progress displays. */
  get read(): number {
    return this.#read;
  }

  /** `consumed` when this run started (what earlier runs of this version had consumed); valid once `progressKnown`. */
  get resumedFrom(): number {
    return this.#resumedFrom;
  }

  /** True once the run has read its stored progress: `resumedFrom` and `read` mean something (a bulk build advances `read` while the state is still "starting"). */
  get progressKnown(): boolean {
    return this.#progressKnown;
  }

  /** Consumes until the signal aborts; rejects when the projection fails (stop policy). */
  async run(signal: AbortSignal): Promise<void> {
    const { definition, store } = { definition: this.definition, ...this.#deps };
    const version = this.version;
    const stored = await readProgress(this.#deps.pool, definition.name, version);
    this.#position = stored.position;
    this.#consumed = this.#read = this.#resumedFrom = stored.consumed;
    this.#progressKnown = true;
    try {
      if (await this.#bulkWanted()) {
        // A fresh version loads without its secondary indexes (built once at the head, below).
        if (await this.#fresh(this.#position)) await deferIndexes(this.#deps.pool, definition, version);
        await this.#buildInBulk(signal);
      }
    } finally {
      this.#deps.onBulkDecided?.();
    }
    if (signal.aborted) {
      this.#state = "stopped";
      return;
    }
    // Indexes deferred for a bulk load (by this run, or by one that died) are built before
    // the version goes on in batches and reports itself running.
    const indexing = performance.now();
    if (await finishIndexes(this.#deps.pool, definition, version)) {
      this.#deps.logger.info({ projection: definition.name, version, ms: Math.round(performance.now() - indexing) }, "secondary indexes built after the bulk load");
    }
    this.#deferral = await this.#viewsDeferral();
    // A bulk build reads larger batches: fewer, larger transactions, and rows that many
    // events touch (a product's sales counters) are written once per batch.
    const batchSize = this.#deferral === null ? this.#deps.batchSize : Math.max(this.#deps.batchSize, this.#deps.bulkBatchSize ?? 0);
    this.#state = "running";
    const effects = this.#deps.live === false || !definition.sideEffects ? null : new SideEffects({ pool: this.#deps.pool, definition, version, logger: this.#deps.logger });
    const partitions = partitionCount(definition);
    const chains: Promise<void>[] = Array.from({ length: partitions }, () => Promise.resolve());
    const inflight = new Set<Promise<void>>();
    let failure: unknown = null;
    // A batch that fails ends the read at once (not when the next batch arrives, which on a
    // quiet log may be never): the run then fails and its leader retries.
    const failed = new AbortController();
    const reading = AbortSignal.any([signal, failed.signal]);
    const runnerDeps: PartitionRunnerDeps = { ...this.#deps, signal, onViewsFailed: () => this.#deps.onViewsFailed() };
    try {
      const after = comparePositions(this.#position, START) === 0 ? null : this.#position;
      for await (const batch of store.subscribeAll({ after, batchSize, signal: reading })) {
        // Start the batch only while not paused and with room in flight, both checked at the
        // same moment: from here to `this.#tail = step` nothing awaits, so a pause() that
        // waited for the tail knows no batch can start behind its back.
        while (this.#openGate !== null || inflight.size >= this.#deps.maxInFlight) {
          if (this.#openGate !== null) {
            this.#batchWaiting = true;
            await this.#gate;
            this.#batchWaiting = false;
          } else await Promise.race(inflight);
        }
        if (signal.aborted) break;
        if (failure) throw failure;
        if (this.#markFailure) throw this.#markFailure;
        const last = batch.at(-1);
        if (!last) continue;
        const through = last.position;
        this.#read += batch.length;
        const consumed = this.#read;
        // A fresh version skips views while it works through a backlog (up to the head found
        // at start); the batch that reaches that head ends it for good, and the leader
        // restores them once. (Not "the first batch that is not full": the shared read window
        // hands out short batches when a reader is close to its end.)
        if (this.#deferral === "backlog" && comparePositions(through, this.#backlogHead) >= 0) {
          this.#deferral = null;
          this.#deps.onViewsDeferredEnd?.();
        }
        const views = this.#deferral === null;
        const tasks: Promise<void>[] = [];
        for (const { owned, events } of partitionGroups(definition, batch, this.#deps.eventsPerTask ?? DEFAULT_EVENTS_PER_TASK)) {
          // After every earlier task of each owned partition (per row, events apply in order).
          const before = owned.length === 1 ? chains[owned[0]!]! : Promise.all(owned.map((partition) => chains[partition]!));
          const task = before.then(() => runPartitions(runnerDeps, definition, this.module, { version, owned, events, through, views }));
          for (const partition of owned) chains[partition] = task;
          tasks.push(task);
        }
        const step = Promise.all([this.#tail, ...tasks])
          .then(() => effects?.fire(batch, signal))
          .then(() => this.#advance(through, consumed));
        this.#tail = step;
        inflight.add(step);
        step.then(
          () => inflight.delete(step),
          (error: unknown) => {
            inflight.delete(step);
            failure ??= error;
            failed.abort(error);
          },
        );
      }
      if (failure) throw failure;
      await this.#tail;
      await this.#marksWritten();
      if (this.#markFailure) throw this.#markFailure;
      this.#state = "stopped";
    } catch (error) {
      await Promise.allSettled([...inflight]);
      await this.#marksWritten();
      this.#state = signal.aborted ? "stopped" : "failed";
      if (!signal.aborted) throw failure ?? error;
    }
  }

  /** True when this run should first build in bulk: a builder is given, side effects allow it, and the backlog is long. */
  async #bulkWanted(): Promise<boolean> {
    const bulk = this.#deps.bulk;
    if (!bulk || this.#deps.store.kind !== "postgres") return false;
    if (this.#deps.live !== false && this.definition.sideEffects) return false;
    return (await visibleEventsAfter(this.#deps.pool, this.#position, bulk.minEvents)) >= bulk.minEvents;
  }

  /**
   * Builds up to the current head in bulk. Progress is the build's (it writes the
   * checkpoints and the watermark with each flush); pause() and hold() wait for the build.
   * A build that fails for a reason other than a lost connection leaves the rest to the
   * batches (they apply event by event where needed and park what keeps failing).
   */
  async #buildInBulk(signal: AbortSignal): Promise<void> {
    const bulk = this.#deps.bulk!;
    // From here on the leader's watchdog starts no restore (deferringViews).
    this.#building = true;
    try {
      const head = await this.#deps.store.headPosition();
      if (head === null) return;
      const views = this.definition.views !== undefined && this.#deps.views !== "defer";
      // Removals of views a fresh version never wrote are skipped, when its key space is known clear.
      const viewsFresh = views && this.#viewsCleared && (await this.#fresh(this.#position));
      // A restore that began before the build holds the loop page by page: start between two
      // pages, as a batch does; its next page then waits for the whole build (the tail).
      while (this.#openGate !== null) {
        this.#batchWaiting = true;
        await this.#gate;
        this.#batchWaiting = false;
      }
      const build = bulk.run({
        module: this.module,
        version: this.version,
        after: this.#position,
        through: head,
        views,
        viewsFresh,
        signal,
        onProgress: (position, consumed) => {
          this.#position = position;
          this.#consumed = consumed;
          // A flush that held rows back stores less than was read: the display keeps what was read.
          if (consumed > this.#read) this.#read = consumed;
          this.#deps.onProgress(position);
        },
        onReading: (consumed) => {
          if (consumed > this.#read) this.#read = consumed;
        },
        onViewsFailed: () => this.#deps.onViewsFailed(),
      });
      this.#deps.onBulkDecided?.();
      this.#tail = build.then(
        () => undefined,
        () => undefined,
      );
      try {
        const outcome = await build;
        this.#position = outcome.position;
        this.#consumed = this.#read = outcome.consumed;
        this.#deps.logger.info(
          { projection: this.definition.name, version: this.version, events: outcome.events, rows: outcome.rowsWritten, flushes: outcome.flushes, together: outcome.together },
          "bulk build reached its head",
        );
      } catch (error) {
        // Views may have gone out for rows that did not commit (known, or a thread that died: unknown).
        if (views && !(error instanceof BulkBuildError && !error.viewsAhead)) this.#deps.onViewsFailed();
        // Stopping, the store unreachable (retried by the leader), or the version written by
        // another process (leadership lost): the run ends here.
        if (signal.aborted || (error instanceof BulkBuildError && error.kind !== "failed") || isConnectionError(error)) throw error;
        // Anything else: go on with batches from where the build's last flush left the version.
        const stored = await readProgress(this.#deps.pool, this.definition.name, this.version);
        this.#position = stored.position;
        this.#consumed = this.#read = stored.consumed;
        this.#deps.logger.warn({ projection: this.definition.name, version: this.version, error: (error as Error).message }, "bulk build failed; going on with batches");
      }
    } finally {
      this.#building = false;
    }
  }

  /** Whether this run starts deferring views: "always" (until stopDeferringViews), "backlog" (up to the head found now), or null. */
  async #viewsDeferral(): Promise<"always" | "backlog" | null> {
    const mode = this.#deps.views ?? "write";
    if (!this.definition.views || mode === "write") return null;
    if (mode === "defer") return "always";
    if (!(await this.#fresh(this.#position))) return null;
    const head = await this.#deps.store.headPosition();
    if (head === null || comparePositions(head, this.#position) <= 0) return null;
    this.#backlogHead = head;
    // Deferring from here on (the leader's watchdog no longer starts a restore), before the
    // sentinel is withdrawn: a restore already running then fails to complete and is redone later.
    this.#deferral = "backlog";
    // Persisted before any task skips a view: a process that dies while views are deferred
    // leaves them marked dirty, so whoever leads next restores them from the rows.
    await this.#deps.pool.query("UPDATE projections SET views_dirty = true WHERE name = $1 AND version = $2", [this.definition.name, this.version]);
    await this.#deps.onViewsDeferredStart?.();
    return "backlog";
  }

  /** True when this version has applied nothing yet (no watermark, no partition checkpoint past 0); `watermark` when already read. */
  async #fresh(watermark?: Position): Promise<boolean> {
    const position = watermark ?? (await readProgress(this.#deps.pool, this.definition.name, this.version)).position;
    if (comparePositions(position, START) !== 0) return false;
    const started = await this.#deps.pool.query("SELECT 1 FROM projection_checkpoints WHERE projection = $1 AND version = $2 AND position <> '0-0' LIMIT 1", [
      this.definition.name,
      this.version,
    ]);
    return started.rowCount === 0;
  }

  /**
   * A version that has applied nothing yet (no watermark, no partition checkpoint) must not
   * inherit keys from an earlier database that used the same Redis: clears its key space.
   * Called by the leader before it checks or restores views and before run().
   */
  async clearStaleViews(redis: Redis | null): Promise<void> {
    if (!redis || !this.definition.views) return;
    if (await this.#fresh()) {
      // Nothing applied, so no rows: the cleared key space is this version's complete views.
      // The sentinel says so, and the leader does not go on to restore zero rows (which
      // clears the collections with more walks of a Redis that may hold millions of keys).
      try {
        await dropVersionKeys(redis, this.definition.name, this.version);
        await redis.set(sentinelKey(this.definition.name, this.version), "1");
        this.#viewsCleared = true;
      } catch {
        // Redis unreachable: the leader's watchdog restores the views once it is back.
      }
    }
  }

  /** Tells the loop its version's Redis key space was cleared while the version had applied nothing (a replay's new version). */
  markViewsCleared(): void {
    this.#viewsCleared = true;
  }

  /** Holds new batches and waits until every batch in flight has committed and its watermark is written; returns the resume function. */
  async pause(): Promise<() => void> {
    const previous = this.#state;
    const release = await this.hold();
    this.#state = previous === "running" ? "paused" : previous;
    await this.#marksWritten();
    return () => {
      release();
      if (this.#state === "paused") this.#state = "running";
    };
  }

  /**
   * Holds new batches and waits until every batch in flight has committed (no task of this
   * loop is running when it resolves); returns the release function. A short hold, e.g.
   * one page of a views restore: the watermark is not waited for and the state stays.
   * Holds nest: the batches start again when the last one is released.
   */
  async hold(): Promise<() => void> {
    // Turns: a batch that waited at the gate starts before the gate closes again. A restore
    // holds page after page; without this, its next hold closed the gate before the waiting
    // batch's continuation ran, and the live loop applied nothing until the restore ended
    // (tens of seconds for 100,000 rows: reads with X-Consistent-With answered 503 meanwhile).
    if (this.#openGate === null && this.#batchWaiting) await new Promise((resolve) => setImmediate(resolve));
    this.#holds++;
    if (!this.#openGate) this.#gate = new Promise((resolve) => (this.#openGate = resolve));
    // Until the tail stays the same: a batch that was starting when the gate closed is waited for too.
    for (;;) {
      const tail = this.#tail;
      await tail.catch(() => undefined);
      if (tail === this.#tail) break;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#holds > 0) return;
      this.#openGate?.();
      this.#openGate = null;
    };
  }

  /**
   * Records that every batch through `through` has committed: progress is announced at once
   * (the read model has it; in-process readers waiting for a position go on), and the
   * watermark is written in the background by the pool's WatermarkWriter, together with the
   * other loops' marks, at most one write in flight and at most one every MARK_SPACING_MS:
   * batches finishing meanwhile are covered by the next write (live batches of a few events
   * each no longer cost a watermark UPDATE + NOTIFY apiece). A
   * watermark a little behind is harmless: after a crash or hand-over the partition
   * checkpoints skip what was applied. pause() and the end of a run wait for the write.
   */
  #advance(through: Position, consumed: number): void {
    this.#position = through;
    this.#consumed = consumed;
    this.#deps.onProgress(through);
    this.#mark = { through, consumed };
    this.#marking ??= this.#writeMarks().finally(() => {
      this.#marking = null;
    });
  }

  async #writeMarks(): Promise<void> {
    const writer = watermarkWriter(this.#deps.pool);
    while (this.#mark) {
      const { through, consumed } = this.#mark;
      this.#mark = null;
      try {
        await writer.write(this.definition.name, this.version, through, consumed);
      } catch (error) {
        this.#markFailure ??= error;
        return;
      }
    }
  }

  /** Resolves when the watermark of every batch advanced so far is written. */
  async #marksWritten(): Promise<void> {
    while (this.#marking) await this.#marking;
  }
}
