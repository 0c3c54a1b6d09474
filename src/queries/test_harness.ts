/**
 * Test support for query tests (tests only): an app with the query routes on a fresh
 * database and Redis prefix, filled by folding events with the real projections, and a
 * raw HTTP GET that returns the exact bytes on the wire (no automatic decompression).
 */
import http from "node:http";
import { pino } from "pino";
import { createApp } from "../http/app.ts";
import { startServer, type RunningServer } from "../http/server.ts";
import { projections } from "../projections/all.ts";
import { createReadTables, projectEvents } from "../projections/testing/project.ts";
import type { RecordedEvent } from "../event_store/types.ts";
import type { Position } from "../shared/position.ts";
import type { ProgressWaiter } from "../shared/read_models.ts";
import { createTestDatabase, type TestDatabase } from "../testing/db.ts";
import { createTestRedis } from "../testing/redis.ts";
import type { Redis } from "ioredis";
import { queryRoutes } from "./routes.ts";

/** A progress waiter for tests: answers what `reached` says and records the calls. */
export class TestProgress implements ProgressWaiter {
  reached = true;
  readonly calls: { projections: readonly string[]; position: Position; timeoutMs: number }[] = [];
  /** Records the call and resolves with `reached`. */
  async waitFor(projectionNames: readonly string[], position: Position, timeoutMs: number): Promise<boolean> {
    this.calls.push({ projections: projectionNames, position, timeoutMs });
    return this.reached;
  }
}

export interface QueryHarness {
  db: TestDatabase;
  redis: Redis;
  progress: TestProgress;
  /** Reads by source on `server` (onViewRead). */
  viewReads: { redis: number; postgres: number };
  /** Server reading Redis then PostgreSQL. */
  server: RunningServer;
  /** Server without Redis (PostgreSQL only). */
  pgOnly: RunningServer;
  close(): Promise<void>;
}

async function start(deps: Parameters<typeof queryRoutes>[0]): Promise<RunningServer> {
  const app = createApp({ tokens: [], logger: pino({ level: "silent" }), routes: [queryRoutes(deps)], ready: async () => true });
  return startServer(app, { port: 0, host: "127.0.0.1", shutdownTimeoutMs: 1000 });
}

/** Creates tables, projects the events into PostgreSQL and Redis, and starts two servers. */
export async function startQueryHarness(events: readonly RecordedEvent[]): Promise<QueryHarness> {
  const db = await createTestDatabase({ poolSize: 5 });
  const testRedis = createTestRedis();
  await createReadTables(db.pool, projections);
  await projectEvents({ pool: db.pool, redis: testRedis.redis, definitions: projections, events });
  const progress = new TestProgress();
  const versions = new Map(projections.map((definition) => [definition.name, definition.version]));
  const base = { pool: db.pool, progress, activeVersions: { get: (name: string) => versions.get(name) ?? 1 }, consistencyWaitMs: 50 };
  const viewReads = { memory: 0, redis: 0, postgres: 0 };
  const server = await start({ ...base, redis: testRedis.redis, onViewRead: (source) => void viewReads[source]++ });
  const pgOnly = await start({ ...base, redis: null });
  return {
    db, redis: testRedis.redis, progress, viewReads, server, pgOnly,
    async close() {
      await server.close();
      await pgOnly.close();
      await testRedis.cleanup();
      await db.drop();
    },
  };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** GETs a URL and returns status, headers and the raw body bytes. */
export function get(url: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on("error", reject);
    });
    request.on("error", reject);
  });
}

/** GETs a URL and parses the JSON body (asserting nothing). */
export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; json: any }> {
  const response = await get(url, headers);
  return { status: response.status, headers: response.headers, json: response.body.length > 0 ? JSON.parse(response.body.toString("utf8")) : null };
}

/** The same GET from the server reading Redis and from the PostgreSQL-only one. */
export function getBoth(h: QueryHarness, path: string): Promise<[RawResponse, RawResponse]> {
  return Promise.all([get(`${h.server.url}${path}`), get(`${h.pgOnly.url}${path}`)]);
}

/** Runs `read` with a projection version's views sentinel removed (views not vouched for), then puts it back. */
export async function withoutSentinel<T>(h: QueryHarness, sentinel: string, read: () => Promise<T>): Promise<T> {
  await h.redis.del(sentinel);
  try {
    return await read();
  } finally {
    await h.redis.set(sentinel, "1");
  }
}
