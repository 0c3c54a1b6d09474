/**
 * Reads every key of a Redis server into comparable strings (type + value), for
 * checking that views came back or equal those of a clean projection run.
 */
import type { Redis } from "ioredis";

/** Every key (SCAN, bounded) with its type and value, sorted by key. */
export async function dumpRedis(client: Redis, options: { exclude?: RegExp; maxKeys?: number } = {}): Promise<Map<string, string>> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, page] = await client.scan(cursor, "COUNT", 1000);
    cursor = next;
    keys.push(...page.filter((key) => !options.exclude?.test(key)));
    if (keys.length > (options.maxKeys ?? 200_000)) throw new Error("too many Redis keys to compare");
  } while (cursor !== "0");
  keys.sort();
  const dump = new Map<string, string>();
  for (const key of keys) {
    const type = await client.type(key);
    let value: string;
    if (type === "string") value = ((await client.getBuffer(key)) ?? Buffer.alloc(0)).toString("base64");
    else if (type === "zset") value = JSON.stringify(await client.zrange(key, 0, -1, "WITHSCORES"));
    else if (type === "hash") value = JSON.stringify(Object.entries(await client.hgetall(key)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    else if (type === "set") value = JSON.stringify((await client.smembers(key)).sort());
    else if (type === "list") value = JSON.stringify(await client.lrange(key, 0, -1));
    else continue; // vanished meanwhile
    dump.set(key, `${type}:${value}`);
  }
  return dump;
}
