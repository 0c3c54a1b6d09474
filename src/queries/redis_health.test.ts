import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { createTestRedis, redisAvailable, redisSkipReason } from "../testing/redis.ts";
import { RECONNECT_SUSPEND_MS, redisUsable, suspendReadsOnReconnect } from "./redis_health.ts";

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
