/**
 * Test support for the runner: append counter events, fold them in memory (the clean
 * one-pass projection), read the projected rows back, and wait for a condition.
 */
import type { Pool } from "../../../db/pool.ts";
import type { EventStore, RecordedEvent } from "../../../event_store/types.ts";
import { comparePositions, START, type Position } from "../../../shared/position.ts";
import type { ProjectionDefinition, Row } from "../../define.ts";
import { tableName } from "../../define.ts";
import { ident, rowFromDatabase, selectList } from "../row_io.ts";

export interface Count {
  key: string;
  group: string;
  amount: number;
  type?: "Counted" | "Removed" | "Poisoned" | "KillsWorker";
  /** KillsWorker: a file whose presence makes the applying worker thread exit (once: it is deleted first). */
  marker?: string;
}

/** Appends counts, `perAppend` events per append call (one stream each); returns the last position. */
export async function appendCounts(store: EventStore, counts: readonly Count[], perAppend = 50): Promise<Position> {
  let last: Position = START;
  for (let i = 0; i < counts.length; i += perAppend) {
    const chunk = counts.slice(i, i + perAppend);
    const result = await store.append(
      `counter-${i / perAppend}-${crypto.randomUUID().slice(0, 6)}`,
      chunk.map((count, j) => ({
        type: count.type ?? "Counted",
        data: { key: count.key, group: count.group, amount: count.amount, ...(count.marker ? { marker: count.marker } : {}) },
        metadata: { occurredAt: new Date(Date.UTC(2026, 0, 1) + i + j).toISOString(), correlationId: crypto.randomUUID(), causationId: null },
      })),
      { expectedVersion: "any" },
    );
    last = result.position;
  }
  return last;
}

/** Deterministic pseudo-random counts over `keys` counters in `groups` groups, with some removals. */
export function makeCounts(n: number, options: { keys: number; groups: number; seed?: number }): Count[] {
  let state = options.seed ?? 42;
  const next = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  return Array.from({ length: n }, () => {
    const k = Math.floor(next() * options.keys);
    const type = next() < 0.02 ? "Removed" : "Counted";
    return { key: `k${k}`, group: `g${k % options.groups}`, amount: 1 + Math.floor(next() * 100), type };
  });
}

/**
 * Reads every event committed to the store (counted in `pool`'s events table). An empty
 * read before then means the rest is still hidden behind a transaction open elsewhere on
 * the server (another test file's: the visibility horizon is server-wide): wait for it
 * rather than stop short and fold a prefix.
 */
export async function readEverything(store: EventStore, pool: Pool): Promise<RecordedEvent[]> {
  const count = Number((await pool.query<{ n: string }>("SELECT count(*) AS n FROM events")).rows[0]?.n ?? 0);
  const all: RecordedEvent[] = [];
  const deadline = Date.now() + 20_000;
  while (all.length < count && Date.now() < deadline) {
    const batch = await store.readAll(all.at(-1)?.position ?? null, 5000);
    all.push(...batch);
    if (batch.length === 0) await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return all;
}

/** Folds events one by one in memory: the rows a clean one-pass projection yields, per table. */
export function foldInMemory(definition: ProjectionDefinition, events: readonly RecordedEvent[]): Record<string, Record<string, Row>> {
  const tables: Record<string, Map<string, Row>> = Object.fromEntries(definition.tables.map((model) => [model.table, new Map<string, Row>()]));
  for (const event of events) {
    if (!definition.handles.has(event.type)) continue;
    for (const ref of definition.touches(event)) {
      const rows = tables[ref.table]!;
      try {
        const next = definition.reduce(ref, rows.get(ref.key), event);
        if (next === undefined) rows.delete(ref.key);
        else rows.set(ref.key, definition.finalize?.(ref.table, next) ?? next);
      } catch {
        // a failing event is parked by the runner: it changes nothing
      }
    }
  }
  return Object.fromEntries(Object.entries(tables).map(([table, rows]) => [table, Object.fromEntries([...rows].sort(([a], [b]) => (a < b ? -1 : 1)))]));
}

/** Reads every projected row of a physical version (default: the definition's), per table, keyed and sorted by key. */
export async function readProjected(pool: Pool, definition: ProjectionDefinition, version = definition.version): Promise<Record<string, Record<string, Row>>> {
  const result: Record<string, Record<string, Row>> = {};
  for (const model of definition.tables) {
    const rows = await pool.query<Record<string, unknown>>(`SELECT ${selectList(model)} FROM ${ident(tableName(model.table, version))} ORDER BY ${ident(model.key)}`);
    result[model.table] = Object.fromEntries(rows.rows.map((raw) => rowFromDatabase(model, raw)).map((row) => [String(row[model.key]), row]));
  }
  return result;
}

/** Polls `check` every 50 ms until it returns true; throws after `timeoutMs`. */
export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Waits until readers by position see every event up to `last`. They see an event once every
 * transaction older than its own has ended, in the whole PostgreSQL cluster: a test file
 * holding an append open in its own database (the late-commit tests) hides new events for a
 * while, and a loop or replay started meanwhile finds less of a backlog than was appended.
 */
export async function waitUntilVisible(store: EventStore, last: Position, timeoutMs = 30_000): Promise<void> {
  await waitUntil(async () => comparePositions((await store.headPosition()) ?? START, last) >= 0, timeoutMs, "appended events visible");
}

/** Every row of every table of a physical version as PostgreSQL prints it, ordered by key: for byte-for-byte comparisons. */
export async function dumpTables(pool: Pool, definition: ProjectionDefinition, version: number): Promise<string[]> {
  const dump: string[] = [];
  for (const model of definition.tables) {
    const table = ident(tableName(model.table, version));
    const rows = await pool.query<{ line: string }>(`SELECT t::text AS line FROM ${table} t ORDER BY ${ident(model.key)}`);
    dump.push(`# ${model.table}`, ...rows.rows.map((row) => row.line));
  }
  return dump;
}
