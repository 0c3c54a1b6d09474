/**
 * Test support: a Redis client whose keys carry a unique prefix per test file, so files
 * running in parallel never see each other's keys. Tests skip when Redis does not answer.
 */
import { Redis } from "ioredis";

const REDIS_URL = process.env["REDIS_TEST_URL"] ?? "redis://127.0.0.1:6379";

async function probe(): Promise<boolean> {
  const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** True when Redis answers at REDIS_TEST_URL (default redis://127.0.0.1:6379). */
export const redisAvailable: boolean = await probe();
export const redisSkipReason = `needs Redis at ${REDIS_URL} (set REDIS_TEST_URL); none answered`;

/** A client whose every key is prefixed with a unique `t<random>:`; `cleanup` deletes those keys. */
export function createTestRedis(): { redis: Redis; prefix: string; url: string; cleanup(): Promise<void> } {
  const prefix = `t${crypto.randomUUID().slice(0, 8)}:`;
  const redis = new Redis(REDIS_URL, { keyPrefix: prefix });
  return {
    redis,
    prefix,
    url: REDIS_URL,
    async cleanup() {
      const plain = new Redis(REDIS_URL);
      try {
        let cursor = "0";
        do {
          const [next, keys] = await plain.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
          cursor = next;
          if (keys.length > 0) await plain.del(...keys);
        } while (cursor !== "0");
      } finally {
        plain.disconnect();
        redis.disconnect();
      }
    },
  };
}
