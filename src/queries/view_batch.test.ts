import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestRedis, redisAvailable, redisSkipReason } from "../testing/redis.ts";
import { getViews } from "./view_batch.ts";

describe.skipIf(!redisAvailable)(redisAvailable ? "view batch" : `view batch: skipped, ${redisSkipReason}`, () => {
  const test = createTestRedis();
  beforeAll(async () => {
    await test.redis.mset("a", "1", "b", "2", "c", "3");
  });
  afterAll(() => test.cleanup());

  it("answers concurrent reads of one turn with one MGET, each with its own keys in order", async () => {
    const mget = vi.spyOn(test.redis, "mgetBuffer");
    const [one, two, three] = await Promise.all([getViews(test.redis, ["a"]), getViews(test.redis, ["c", "missing"]), getViews(test.redis, ["b", "a"])]);
    expect(mget).toHaveBeenCalledTimes(1);
    mget.mockRestore();
    expect(one.map((v) => v?.toString() ?? null)).toEqual(["1"]);
    expect(two.map((v) => v?.toString() ?? null)).toEqual(["3", null]);
    expect(three.map((v) => v?.toString() ?? null)).toEqual(["2", "1"]);
  });

  it("rejects every read of a batch whose MGET fails, and later batches work again", async () => {
    const mget = vi.spyOn(test.redis, "mgetBuffer").mockRejectedValueOnce(new Error("down"));
    const results = await Promise.allSettled([getViews(test.redis, ["a"]), getViews(test.redis, ["b"])]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    mget.mockRestore();
    expect((await getViews(test.redis, ["b"]))[0]?.toString()).toBe("2");
  });
});
