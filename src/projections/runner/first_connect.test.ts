/**
 * A worker thread's first tasks wait for its Redis connection even when the thread was off
 * the CPU for longer than the wait (simulated by blocking the event loop right after the
 * client is made), and stop waiting at once when the connection is refused.
 */
import net from "node:net";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { redisAvailable, redisSkipReason } from "../../testing/redis.ts";
import { firstConnection } from "./first_connect.ts";
import { LiveViews } from "./live_views.ts";

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

    const views = new LiveViews(REDIS_URL, "first-connect:");
    try {
      const waited = firstConnection(views, 20, 10); // a wait of 200 ms in 20 turns
      blockFor(400);
      await waited;
      expect(views.ready).toBe(true);
    } finally {
      views.close();
    }
  });

  it("stops waiting at once when the connection is refused", { timeout: 10_000 }, async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const views = new LiveViews(`redis://127.0.0.1:${port}`, "first-connect:");
    try {
      // Bounded at 1,000 turns of 100 ms (100 s): only a refusal ends it within the test's timeout.
      await firstConnection(views, 1000, 100);
      expect(views.ready).toBe(false);
    } finally {
      views.close();
    }
  });
});
