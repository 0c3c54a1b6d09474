/**
 * Operator command line: `npm run cli -- <command>` (entry: src/cli.ts).
 *   migrate            apply pending migrations
 *   status             projections: version, status, position, lag, parked events
 *   seed [options]     append a realistic history (--events N | --products N --orders N --customers N, --seed N)
 *   replay <name...>   rebuild projections into their next versions while the current ones serve, then switch
 *                      (several names, or `all`: built together, one read of the log)
 */
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, type Config } from "./config.ts";
import { openDatabase, type OpenDatabase } from "./db/open.ts";
import { isConnectionError, type Pool } from "./db/pool.ts";
import { createEventStoreDbStore } from "./event_store/eventstoredb.ts";
import { createPostgresStore } from "./event_store/postgres.ts";
import type { EventStore } from "./event_store/types.ts";
import { replayCommand } from "./cli_replay.ts";
import { REPLAY_NICENESS } from "./runtime/priority.ts";
import { createLogger } from "./main.ts";
import { projectionModules } from "./projections/all.ts";
import { backoffMs, sleep } from "./projections/runner/backoff.ts";
import { projectionStatusForModules } from "./projections/runner/status.ts";
import { boundHeapGrowth } from "./runtime/heap_growth.ts";
import { seed, seedEventCount, seedSizeForEvents } from "./seed/seed.ts";

const USAGE = `usage: npm run cli -- <command>
  migrate                         apply pending migrations
  status                          show projections (position, lag, parked events)
  seed [--events N] [--products N --orders N --customers N] [--seed N]
                                  append a realistic history (default ~100,000 events)
  replay <projection...> | all    rebuild projections into their next versions, then switch over
                                  (several: built together, one read of the log)
projections: ${projectionModules.map((ref) => ref.name).join(", ")}`;

/** Opens the database and the configured event store. */
async function openStores(config: Config, backendNiceness?: number): Promise<{ database: OpenDatabase; store: EventStore; close(): Promise<void> }> {
  const database = await openDatabase(config, { poolSize: 20, log: (line) => console.error(line), ...(backendNiceness ? { backendNiceness } : {}) });
  const store = config.eventstoreUrl
    ? createEventStoreDbStore({ connectionString: config.eventstoreUrl, pool: database.pool })
    : createPostgresStore(database.pool, { connectionString: database.url });
  return {
    database,
    store,
    async close() {
      await store.close();
      await database.close();
    },
  };
}

function positiveInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new ConfigError(`--${name} must be a positive whole number`);
  return Number(value);
}

async function runSeed(config: Config, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { events: { type: "string" }, products: { type: "string" }, orders: { type: "string" }, customers: { type: "string" }, seed: { type: "string" } },
    strict: true,
  });
  const seedValue = positiveInt(values.seed, "seed") ?? 1;
  const events = positiveInt(values.events, "events");
  const size =
    values.products || values.orders || values.customers
      ? { products: positiveInt(values.products, "products") ?? 100, orders: positiveInt(values.orders, "orders") ?? 1000, customers: positiveInt(values.customers, "customers") ?? 250, seed: seedValue }
      : seedSizeForEvents(events ?? 100_000, seedValue);
  const stores = await openStores(config);
  try {
    const total = seedEventCount(size);
    console.log(`seeding ~${total} events: ${size.products} products, ${size.orders} orders, ${size.customers} customers (seed ${size.seed})`);
    const started = performance.now();
    let lastPrint = 0;
    const result = await seed(stores.store, {
      ...size,
      onProgress(done, all) {
        const now = performance.now();
        if (now - lastPrint < 1000 && done < all) return;
        lastPrint = now;
        console.log(`  ${done}/${all} events`);
      },
    });
    const seconds = (performance.now() - started) / 1000;
    console.log(`seeded ${result.events} events in ${seconds.toFixed(1)} s (${Math.round(result.events / seconds)} events/s)`);
  } finally {
    await stores.close();
  }
}

async function runStatus(config: Config): Promise<void> {
  const stores = await openStores(config);
  try {
    const { items } = await projectionStatusForModules({ pool: stores.database.pool, store: stores.store, projections: projectionModules });
    console.table(
      items.map((item) => ({
        name: item.name,
        version: item.version,
        status: item.status,
        position: item.position ?? "-",
        head: item.headPosition ?? "-",
        lagEvents: item.lagEvents,
        parked: item.parkedEvents,
        rebuild: item.rebuild ? `v${item.rebuild.version} ${(item.rebuild.progress * 100).toFixed(1)}%` : "-",
      })),
    );
  } finally {
    await stores.close();
  }
}

async function runMigrate(config: Config): Promise<void> {
  const database = await openDatabase(config, { poolSize: 2, log: (line) => console.error(line) });
  try {
    console.log(database.applied.length > 0 ? `applied: ${database.applied.join(", ")}` : "migrations: up to date");
  } finally {
    await database.close();
  }
}

async function runReplayCommand(config: Config, args: readonly string[]): Promise<void> {
  const known = projectionModules.map((ref) => ref.name);
  const names = args.length === 1 && args[0] === "all" ? known : [...new Set(args)];
  const unknown = names.filter((name) => !known.includes(name));
  if (names.length === 0 || unknown.length > 0) {
    throw new ConfigError(`replay needs projection names (or all)${unknown.length > 0 ? `; unknown: ${unknown.join(", ")}` : ""}: ${known.join(", ")}`);
  }
  // Its connections' backends yield to live work, as its threads do (index builds, the switch-over).
  // (Several replays read the log together in one bulk build, not through the store's window.)
  const stores = await openStores(config, REPLAY_NICENESS);
  try {
    let pending = names;
    // What serves when the command starts: a replay that switched over since is done.
    const servingAtStart = await servingVersions(stores.database.pool, names);
    for (let attempt = 1; ; attempt++) {
      try {
        const results = await replayCommand({
          pool: stores.database.pool,
          databaseUrl: stores.database.url,
          store: stores.store,
          redisUrl: config.redisUrl === "off" ? null : config.redisUrl === "auto" ? "redis://127.0.0.1:6379" : config.redisUrl,
          redisKeyPrefix: config.redisKeyPrefix,
          projections: projectionModules,
          names: pending,
          workers: config.projectionWorkers,
          logger: createLogger({ logLevel: config.logLevel === "info" ? "warn" : config.logLevel }),
        });
        results.forEach((result, i) => {
          const resumed = result.resumedFrom > 0 ? ` (resumed from ${result.resumedFrom})` : "";
          console.log(`replayed ${pending[i]} into v${result.version}: ${result.events} events${resumed} in ${result.seconds.toFixed(1)} s; serving v${result.version}`);
        });
        return;
      } catch (error) {
        // A store outage (a dropped connection, PostgreSQL restarting) interrupts a replay; it resumes
        // from its checkpoints. Anything else, or an outage that lasts, ends the command.
        if (!isConnectionError(error) || attempt >= REPLAY_ATTEMPTS) throw error;
        const delayMs = backoffMs(attempt - 1, 15_000, 1000);
        console.error(`replay interrupted by a store outage (${(error as Error).message}); resuming in ${delayMs / 1000} s (attempt ${attempt + 1} of ${REPLAY_ATTEMPTS})`);
        await sleep(delayMs);
        // Replays that switched over before the interruption are done; the rest resume (or start).
        const serving = await servingVersions(stores.database.pool, pending).catch(() => servingAtStart);
        const switched = pending.filter((name) => serving.get(name) !== servingAtStart.get(name));
        for (const name of switched) console.log(`replayed ${name} into v${serving.get(name)} (finished before the interruption); serving v${serving.get(name)}`);
        pending = pending.filter((name) => !switched.includes(name));
        if (pending.length === 0) return;
      }
    }
  } finally {
    await stores.close();
  }
}

/** How many times `cli replay` starts over after a store outage (~3 minutes of backoff in all). */
const REPLAY_ATTEMPTS = 15;

/** The version each of `names` serves now (absent: none yet). */
async function servingVersions(pool: Pool, names: readonly string[]): Promise<Map<string, number>> {
  const result = await pool.query<{ name: string; version: number }>("SELECT name, version FROM projection_active WHERE name = ANY($1::text[])", [names]);
  return new Map(result.rows.map((row) => [row.name, row.version]));
}

/** Runs one CLI command; returns the process exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  boundHeapGrowth();
  try {
    const config = loadConfig();
    switch (command) {
      case "migrate":
        await runMigrate(config);
        return 0;
      case "status":
        await runStatus(config);
        return 0;
      case "seed":
        await runSeed(config, rest);
        return 0;
      case "replay":
        await runReplayCommand(config, rest);
        return 0;
      default:
        console.error(USAGE);
        return command === undefined || command === "help" || command === "--help" ? 0 : 2;
    }
  } catch (error) {
    console.error(error instanceof ConfigError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") ? (error as Error).message : `${command} failed: ${(error as Error).message}`);
    return 1;
  }
}

