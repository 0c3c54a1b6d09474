import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { createTestRedis, redisAvailable, redisSkipReason } from "../testing/redis.ts";
import { createPool } from "../db/pool.ts";
import { createTestDatabase, databaseAvailable, databaseSkipReason } from "../testing/db.ts";
import { holdReadsOnNewServer, holdReadsUntil, RECONNECT_SUSPEND_MS, redisUsable, suspendReadsOnReconnect } from "./redis_health.ts";

describe.skipIf(!redisAvailable)(`Redis reads after a reconnect${redisAvailable ? "" : ` (${redisSkipReason})`}`, () => {
  it("are skipped for a few seconds after the client connects again, not after its first connection", { timeout: 15_000 }, async () => {
    const handle = createTestRedis();
    const client = new Redis(handle.url, { lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => 50 });
    client.on("error", () => undefined);
    suspendReadsOnReconnect(client);
    try {
      await client.connect();
      expect(redisUsable(client)).toBe(true);
      const ready = new Promise((resolve) => client.once("ready", resolve));
      // The connection lost: the client reconnects by itself (as after a Redis restart).
      client.disconnect(true);
      await ready;
      const reconnectedAt = performance.now();
      expect(redisUsable(client)).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_SUSPEND_MS - (performance.now() - reconnectedAt) + 100));
      expect(redisUsable(client)).toBe(true);
    } finally {
      client.disconnect();
      await handle.cleanup();
    }
  });
});

describe.skipIf(!redisAvailable)(`Redis reads held until a condition settles${redisAvailable ? "" : ` (${redisSkipReason})`}`, () => {
  it("are held while any hold lasts, released when each settles or gives up", { timeout: 15_000 }, async () => {
    const handle = createTestRedis();
    const client = new Redis(handle.url, { lazyConnect: true, enableOfflineQueue: false });
    client.on("error", () => undefined);
    try {
      await client.connect();
      expect(redisUsable(client)).toBe(true);
      let settle = false;
      let asks = 0;
      const first = holdReadsUntil(client, async () => (asks++, settle), { everyMs: 20 });
      // A failing ask counts as not settled; this hold gives up after 150 ms.
      const second = holdReadsUntil(client, () => Promise.reject(new Error("store down")), { everyMs: 20, maxMs: 150 });
      expect(redisUsable(client)).toBe(false);
      expect(await second).toBe(false);
      expect(redisUsable(client)).toBe(false); // the first still holds
      settle = true;
      expect(await first).toBe(true);
      expect(asks).toBeGreaterThan(1);
      expect(redisUsable(client)).toBe(true);
      // An ask that never answers is cut at the hold's bound; an aborted signal ends a hold at once.
      const began = performance.now();
      expect(await holdReadsUntil(client, () => new Promise<boolean>(() => undefined), { everyMs: 20, maxMs: 150 })).toBe(false);
      expect(performance.now() - began).toBeLessThan(1000);
      const stop = new AbortController();
      const stopped = holdReadsUntil(client, async () => false, { everyMs: 20, signal: stop.signal });
      stop.abort();
      expect(await stopped).toBe(false);
      expect(redisUsable(client)).toBe(true);
    } finally {
      client.disconnect();
      await handle.cleanup();
    }
  });
});

describe.skipIf(!redisAvailable || !databaseAvailable)(`Redis reads on a new connection${redisAvailable ? (databaseAvailable ? "" : ` (${databaseSkipReason})`) : ` (${redisSkipReason})`}`, () => {
  it("pass at once on a reconnect to the run that passed last, even with PostgreSQL down; are held, then given up, when PostgreSQL cannot say", { timeout: 20_000 }, async () => {
    const handle = createTestRedis();
    const db = await createTestDatabase();
    const pool = createPool({ connectionString: db.url, max: 2 });
    const client = new Redis(handle.url, { lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => 50 });
    client.on("error", () => undefined);
    const held: Array<{ settled: boolean; failedAsks: number }> = [];
    holdReadsOnNewServer(client, pool, { projections: ["product_catalog"], maxMs: 400, onHeld: (outcome) => held.push(outcome) });
    const later = new Redis(handle.url, { lazyConnect: true, enableOfflineQueue: false });
    later.on("error", () => undefined);
    try {
      await client.connect();
      await waitFor(() => redisUsable(client));
      // PostgreSQL gone: a reconnect to the same Redis run needs nothing from it.
      await pool.end();
      const ready = new Promise((resolve) => client.once("ready", resolve));
      client.disconnect(true);
      await ready;
      await waitFor(() => redisUsable(client), 300);
      expect(held).toEqual([]);

      // A client that never passed cannot tell without PostgreSQL: held, then given up after maxMs.
      holdReadsOnNewServer(later, pool, { projections: ["product_catalog"], maxMs: 400, onHeld: (outcome) => held.push(outcome) });
      await later.connect();
      expect(redisUsable(later)).toBe(false);
      await waitFor(() => redisUsable(later), 3000);
      expect(held).toEqual([expect.objectContaining({ settled: false, failedAsks: expect.any(Number) })]);
      expect(held[0]!.failedAsks).toBeGreaterThan(0);
    } finally {
      client.disconnect();
      later.disconnect();
      await db.drop();
      await handle.cleanup();
    }
  });
});

/** Waits until the condition holds, failing after `timeoutMs`. */
async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > until) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
