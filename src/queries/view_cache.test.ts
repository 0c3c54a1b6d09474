import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestRedis, redisAvailable, redisSkipReason } from "../testing/redis.ts";
import { getViews } from "./view_batch.ts";
import { ViewCache } from "./view_cache.ts";

if (!redisAvailable) console.warn(`view_cache.test.ts skipped: ${redisSkipReason}`);

/** Polls until `check` holds (bounded); the invalidation travels on another connection. */
async function eventually(check: () => Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > until) throw new Error("condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function text(cache: ViewCache, key: string): Promise<string | null> {
  return (await cache.get([key])).values[0]?.toString() ?? null;
}

describe.skipIf(!redisAvailable)("ViewCache (Redis client-side caching with tracking)", () => {
  let test: ReturnType<typeof createTestRedis>;
  let writer: Redis;
  let cache: ViewCache;

  beforeAll(async () => {
    test = createTestRedis();
    writer = test.redis;
    cache = new ViewCache({ url: test.url, keyPrefix: test.prefix, maxBytes: 1024 * 1024 });
    await cache.start();
  });

  afterAll(async () => {
    await cache?.close();
    await test?.cleanup();
  });

  it("goes live and answers a second read from memory", async () => {
    expect(cache.live).toBe(true);
    await writer.set("a", "one");
    const first = await cache.get(["a", "absent"]);
    expect(first.values.map((value) => value?.toString() ?? null)).toEqual(["one", null]);
    expect(first.fromMemory).toBe(false);
    const hits = cache.stats().hits;
    const second = await cache.get(["a"]);
    expect(second).toMatchObject({ fromMemory: true });
    expect(second.values[0]?.toString()).toBe("one");
    expect(cache.stats().hits).toBe(hits + 1);
    // Absence is kept too, and the key's creation is reported like a change.
    expect((await cache.get(["absent"])).fromMemory).toBe(true);
    await writer.set("absent", "created");
    await eventually(async () => (await text(cache, "absent")) === "created");
  });

  it("drops a value when another client changes or deletes its key", async () => {
    await writer.set("b", "v1");
    expect(await text(cache, "b")).toBe("v1");
    await writer.set("b", "v2");
    await eventually(async () => (await text(cache, "b")) === "v2");
    await writer.del("b");
    await eventually(async () => (await text(cache, "b")) === null);
  });

  it("converges on the last write, with writes racing the reads (the ordering rule itself: the delayed-answer test below)", async () => {
    for (let i = 0; i < 300; i++) {
      // The write and the read go out on different connections in the same turn: either may run first.
      const write = writer.set("race", `v${i}`);
      const read = cache.get(["race"]);
      await Promise.all([write, read]);
      await eventually(async () => (await text(cache, "race")) === `v${i}`, 1000);
    }
    // The last value is then served from memory, not stuck on an older one.
    const last = await cache.get(["race"]);
    expect(last.values[0]?.toString()).toBe("v299");
  });

  it("does not keep a value whose key changed while its read was on the way back", async () => {
    // The answer (read before the change) is handed over only after the change's
    // invalidation arrived: the order in which two connections' data is processed.
    let changeOnRead: (() => Promise<void>) | null = null;
    const delayed = new ViewCache({
      url: test.url, keyPrefix: test.prefix, maxBytes: 1024 * 1024,
      readViews: async (redis, keys) => {
        const values = await getViews(redis, keys);
        const change = changeOnRead;
        changeOnRead = null;
        if (change) await change();
        return values;
      },
    });
    try {
      await delayed.start();
      await writer.set("d", "old");
      changeOnRead = async () => {
        const seen = delayed.stats().invalidations;
        await writer.set("d", "new");
        await eventually(async () => delayed.stats().invalidations > seen);
      };
      // Answered with the value it read (current when read) ...
      expect((await delayed.get(["d"])).values[0]?.toString()).toBe("old");
      // ... but not kept: the next read asks Redis and gets the change.
      const next = await delayed.get(["d"]);
      expect(next.fromMemory).toBe(false);
      expect(next.values[0]?.toString()).toBe("new");
      expect((await delayed.get(["d"])).fromMemory).toBe(true);
    } finally {
      await delayed.close();
    }
  });

  it("forgets everything when its invalidation connection is lost, and tracks again after reconnecting", async () => {
    await writer.set("c", "before");
    expect(await text(cache, "c")).toBe("before");
    expect((await cache.get(["c"])).fromMemory).toBe(true);
    // Kill the listener connection (the one subscribed to invalidations): changes made while
    // it is gone would be lost, so nothing read before may be served after.
    const admin = new Redis(test.url);
    try {
      const id = cache.listenerId;
      expect(id).not.toBeNull();
      expect(await admin.call("CLIENT", "KILL", "ID", String(id))).toBe(1);
      await writer.set("c", "after");
      await eventually(async () => (await text(cache, "c")) === "after");
      await eventually(async () => cache.live);
      await writer.set("c", "again");
      await eventually(async () => (await text(cache, "c")) === "again");
    } finally {
      admin.disconnect();
    }
  });

  it("stays within its byte budget, least recently used out first", async () => {
    const small = new ViewCache({ url: test.url, keyPrefix: test.prefix, maxBytes: 300 });
    try {
      await small.start();
      for (const key of ["k1", "k2", "k3"]) await writer.set(key, "x".repeat(100));
      for (const key of ["k1", "k2", "k3"]) await small.get([key]);
      expect(small.stats().bytes).toBe(300);
      await small.get(["k1"]); // k1 now most recent; k2 least
      await writer.set("k4", "y".repeat(100));
      await small.get(["k4"]);
      expect(small.stats()).toMatchObject({ bytes: 300, entries: 3 });
      expect((await small.get(["k1"])).fromMemory).toBe(true);
      expect((await small.get(["k2"])).fromMemory).toBe(false);
    } finally {
      await small.close();
    }
  });
});
