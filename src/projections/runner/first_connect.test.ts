/**
 * A worker thread's first tasks wait for its Redis connection even when the thread was off
 * the CPU for longer than the wait (simulated by blocking the event loop right after the
 * client is made), and stop waiting at once when the connection is refused.
 */
import net from "node:net";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { redisAvailable, redisSkipReason } from "../../testing/redis.ts";
import { firstConnection, ioredisConnecting } from "./first_connect.ts";

const REDIS_URL = process.env["REDIS_TEST_URL"] ?? "redis://127.0.0.1:6379";

/** Keeps the thread busy, as a starved thread is from its event loop's point of view. */
function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

describe("first Redis connection of a worker thread", () => {
  it.skipIf(!redisAvailable)(`is ready when the wait ends, though the loop was blocked for longer than the wait${redisAvailable ? "" : ` (skipped: ${redisSkipReason})`}`, async () => {
    // The way it was: one timer of the whole wait fires in the first turn after the block,
    // before the connection's events of that turn are handled.
    const naive = new Redis(REDIS_URL, { lazyConnect: false });
    naive.on("error", () => undefined);
    const timer = new Promise<void>((resolve) => setTimeout(resolve, 200));
    blockFor(400);
    await timer;
    expect(naive.status).not.toBe("ready");
    naive.disconnect();

    const redis = new Redis(REDIS_URL, { lazyConnect: false });
    redis.on("error", () => undefined);
    try {
      const waited = firstConnection(ioredisConnecting(redis), 20, 10); // a wait of 200 ms in 20 turns
      blockFor(400);
      await waited;
      expect(redis.status).toBe("ready");
    } finally {
      redis.disconnect();
    }
  });

  it("stops waiting at once when the connection is refused", { timeout: 10_000 }, async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const redis = new Redis({ host: "127.0.0.1", port, lazyConnect: false, retryStrategy: () => 1000 });
    redis.on("error", () => undefined);
    try {
      // Bounded at 1,000 turns of 100 ms (100 s): only a refusal ends it within the test's timeout.
      await firstConnection(ioredisConnecting(redis), 1000, 100);
      expect(redis.status).not.toBe("ready");
    } finally {
      redis.disconnect();
    }
  });
});
