import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { createTestRedis, redisAvailable, redisSkipReason } from "../testing/redis.ts";
import { holdReadsUntil, RECONNECT_SUSPEND_MS, redisUsable, suspendReadsOnReconnect } from "./redis_health.ts";

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
    } finally {
      client.disconnect();
      await handle.cleanup();
    }
  });
});
