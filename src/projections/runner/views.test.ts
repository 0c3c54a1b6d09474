import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestRedis, redisAvailable, redisSkipReason } from "../../testing/redis.ts";
import { unlinkMatching } from "./views.ts";

describe.skipIf(!redisAvailable)(`unlinkMatching${redisAvailable ? "" : ` (${redisSkipReason})`}`, () => {
  let handle: ReturnType<typeof createTestRedis>;

  beforeAll(() => {
    handle = createTestRedis();
  });

  afterAll(async () => {
    await handle?.cleanup();
  });

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
});
