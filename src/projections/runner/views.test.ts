import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestRedis, redisAvailable, redisSkipReason } from "../../testing/redis.ts";
import type { ViewOp } from "../define.ts";
import { forgetViews, unlinkMatching, unlinkMatchingTogether } from "./views.ts";

describe.skipIf(!redisAvailable)(`views in Redis${redisAvailable ? "" : ` (${redisSkipReason})`}`, () => {
  let handle: ReturnType<typeof createTestRedis>;

  beforeAll(() => {
    handle = createTestRedis();
  });

  afterAll(async () => {
    await handle?.cleanup();
  });

  describe("unlinkMatching", () => {
    it("removes exactly the keys of its patterns and names, whether patterns share a scan or not", async () => {
      const { redis } = handle;
      const keys = [
        "p:v1:plist:active:all", "p:v1:plist:active:c:toys", "p:v1:best:toys", "p:v1:best_items:toys",
        "p:v1:id:1", "p:v1:sku:A", "p:v1:bestx", "p:v2:best:toys",
        "o:v1:cust:c1", "o:v1:cust_items:c1", "o:v1:customer", "o:v1:cx", "d:v1:items", "d:v1:items2",
      ];
      for (let i = 0; i < 1500; i++) keys.push(`p:v1:plist:n${i}`, `q:${i}`);
      await redis.mset(...keys.flatMap((key) => [key, "1"]));
      const removed = await unlinkMatching(redis, ["p:v1:plist:*", "p:v1:best:*", "p:v1:best_items:*", "o:v1:cust:*", "o:v1:c?", "d:v1:items"], ["p:v1:sku:A"]);
      const left = new Set<string>();
      for (const key of keys) if ((await redis.exists(key)) === 1) left.add(key);
      const gone = keys.filter((key) => !left.has(key));
      expect(gone.filter((key) => !key.startsWith("p:v1:plist:n")).sort()).toEqual(
        ["d:v1:items", "o:v1:cust:c1", "o:v1:cx", "p:v1:best:toys", "p:v1:best_items:toys", "p:v1:plist:active:all", "p:v1:plist:active:c:toys", "p:v1:sku:A"].sort(),
      );
      expect(gone.filter((key) => key.startsWith("p:v1:plist:n"))).toHaveLength(1500);
      expect(removed).toBe(gone.length);
      // Untouched: other keys of the version, a key that only starts like a pattern's literal, other versions, other names.
      for (const key of ["p:v1:id:1", "p:v1:bestx", "p:v2:best:toys", "o:v1:cust_items:c1", "o:v1:customer", "d:v1:items2", "q:0", "q:1499"]) expect(left.has(key)).toBe(true);
    });

    it("calls made at once, and calls made while a pass runs, each lose exactly their own keys", async () => {
      const { redis } = handle;
      const versions = ["a:v1", "b:v7", "c:v2", "d:v3"];
      const keys = versions.flatMap((version) => Array.from({ length: 300 }, (_, i) => `${version}:k${i}`));
      const kept = ["a:v2:k1", "b:v1:k1", "c:v22:k1", "e:v1:k1"];
      await redis.mset(...[...keys, ...kept, ...versions.map((version) => `${version}:sentinel`)].flatMap((key) => [key, "1"]));
      const first = versions.slice(0, 3).map((version) => unlinkMatchingTogether(redis, [`${version}:*`], [`${version}:sentinel`]));
      // While the first pass runs: served by the next one.
      await new Promise((resolve) => setTimeout(resolve, 25));
      const late = unlinkMatchingTogether(redis, ["d:v3:*"]);
      await Promise.all([...first, late]);
      for (const key of [...keys, ...versions.map((version) => `${version}:sentinel`)]) expect(await redis.exists(key), key).toBe(0);
      for (const key of kept) expect(await redis.exists(key), key).toBe(1);
    });

    it("a failed pass rejects every call in it", async () => {
      // Nothing listens on port 1: the pass's SCAN fails.
      const unreachable = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: true });
      unreachable.on("error", () => undefined);
      const calls = [unlinkMatchingTogether(unreachable, ["x:v1:*"]), unlinkMatchingTogether(unreachable, ["y:v1:*"])];
      for (const call of calls) await expect(call).rejects.toThrow();
      unreachable.disconnect();
    });
  });

  describe("forgetViews", () => {
    it("deletes the values and hash fields a failed write would have set, and the sentinel; leaves collections and other keys", async () => {
      const { redis } = handle;
      const ops: ViewOp[] = [
        { op: "set", key: "f:v1:id:1", value: Buffer.from("new") },
        { op: "hset", key: "f:v1:days", field: "2026-12-07", value: Buffer.from("new") },
        { op: "zadd", key: "f:v1:list", score: 2, member: "1" },
        { op: "del", key: "f:v1:id:gone" },
      ];
      await redis.mset("f:v1:id:1", "old", "f:v1:id:2", "other", "f:sentinel", "1");
      await redis.hset("f:v1:days", "2026-12-07", "old", "2026-12-06", "kept");
      await redis.zadd("f:v1:list", 1, "1");
      await forgetViews(redis, ops, "f:sentinel");
      expect(await redis.exists("f:v1:id:1", "f:sentinel")).toBe(0);
      expect(await redis.hgetall("f:v1:days")).toEqual({ "2026-12-06": "kept" });
      expect(await redis.get("f:v1:id:2")).toBe("other");
      expect(await redis.zscore("f:v1:list", "1")).toBe("1");
    });

    it("does not throw when Redis cannot be reached", async () => {
      const offline = new Redis("redis://127.0.0.1:1", { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
      offline.on("error", () => undefined);
      await expect(forgetViews(offline, [{ op: "set", key: "k", value: Buffer.from("v") }], "s")).resolves.toBeUndefined();
      offline.disconnect();
    });
  });
});
