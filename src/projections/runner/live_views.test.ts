/**
 * The live tasks' view writes over a raw RESP connection: the same bytes in Redis as through
 * ioredis, concurrent transactions each answered on their own, failures reported (error
 * replies, a killed connection, a Redis that stops answering, none at all) and the
 * connection made again by itself.
 */
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestRedis, redisAvailable, redisSkipReason } from "../../testing/redis.ts";
import type { ViewOp } from "../define.ts";
import { LiveViews } from "./live_views.ts";
import { ioredisViews } from "./views.ts";

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const begin = performance.now();
  while (!check()) {
    if (performance.now() - begin > timeoutMs) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sample = (n: string): ViewOp[] => [
  { op: "set", key: `o:id:${n}`, value: Buffer.from(`{"id":"${n}","note":"é\\n"}`), etag: `"${n}-1"` },
  { op: "set", key: `o:raw:${n}`, value: Buffer.from([0, 1, 2, 255]) },
  { op: "hset", key: "o:items", field: `m${n}`, value: Buffer.from(`summary ${n}`) },
  { op: "zadd", key: "o:set", score: Number(n) || 0, member: `m${n}` },
  { op: "zadd", key: "o:set:x", score: 0, member: `m${n}` },
  { op: "zrem", key: "o:set:x", member: `m${n}` },
  { op: "del", key: `o:gone:${n}` },
  { op: "hdel", key: "o:items", field: `gone${n}` },
];

describe.skipIf(!redisAvailable)(`live view writes${redisAvailable ? "" : ` (${redisSkipReason})`}`, () => {
  let handle: ReturnType<typeof createTestRedis>;
  let other: ReturnType<typeof createTestRedis>;
  const open: LiveViews[] = [];
  const liveViews = (prefix: string, options = {}): LiveViews => {
    const views = new LiveViews(handle.url, prefix, options);
    open.push(views);
    return views;
  };

  beforeAll(() => {
    handle = createTestRedis();
    other = createTestRedis();
  });

  afterAll(async () => {
    for (const views of open) views.close();
    await handle?.cleanup();
    await other?.cleanup();
  });

  it("leaves the same keys and bytes as the ioredis writes, under its prefix", async () => {
    const views = liveViews(handle.prefix);
    await until(() => views.ready);
    const ops = [...sample("1"), ...sample("2")];
    await other.redis.set("o:gone:1", "x");
    await handle.redis.set("o:gone:1", "x");
    expect(await views.write(ops)).toBe(true);
    expect(await ioredisViews(other.redis).write(ops)).toBe(true);
    for (const key of ["o:id:1", "o:id:2", "o:raw:1", "o:gone:1"]) {
      expect(await handle.redis.getBuffer(key)).toEqual(await other.redis.getBuffer(key));
    }
    expect(await handle.redis.getBuffer("o:id:1")).toEqual(Buffer.from(`"1-1"\n{"id":"1","note":"é\\n"}`));
    expect(await handle.redis.hgetall("o:items")).toEqual(await other.redis.hgetall("o:items"));
    expect(await handle.redis.zrange("o:set", 0, -1, "WITHSCORES")).toEqual(["m1", "1", "m2", "2"]);
    expect(await handle.redis.exists("o:set:x")).toBe(0);
    expect(await views.write([])).toBe(true);
  });

  it("answers each of many concurrent transactions on its own", async () => {
    const views = liveViews(handle.prefix);
    await until(() => views.ready);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => views.write([{ op: "zadd", key: "c:set", score: i, member: `m${i}` }, { op: "set", key: `c:${i}`, value: Buffer.from(String(i)) }])));
    expect(results.every(Boolean)).toBe(true);
    expect(await handle.redis.zcard("c:set")).toBe(200);
    expect(await handle.redis.get("c:199")).toBe("199");
  });

  it("reports an error reply as a failed write, leaves the others alone, and connects again", async () => {
    const views = liveViews(handle.prefix, { retryStepMs: 20 });
    await until(() => views.ready);
    await handle.redis.set("e:string", "a string, not a hash");
    const [before, failed] = await Promise.all([
      views.write([{ op: "set", key: "e:1", value: Buffer.from("1") }]),
      views.write([{ op: "set", key: "e:2", value: Buffer.from("2") }, { op: "hset", key: "e:string", field: "f", value: Buffer.from("v") }]),
    ]);
    expect(before).toBe(true);
    expect(failed).toBe(false);
    await until(() => views.ready);
    expect(await views.write([{ op: "set", key: "e:3", value: Buffer.from("3") }])).toBe(true);
    expect(await handle.redis.get("e:3")).toBe("3");
  });

  it("forgets what a failed write set, and the sentinel", async () => {
    const views = liveViews(handle.prefix);
    await until(() => views.ready);
    await handle.redis.set("f:sentinel", "1");
    const ops: ViewOp[] = [{ op: "set", key: "f:a", value: Buffer.from("a") }, { op: "hset", key: "f:h", field: "x", value: Buffer.from("1") }, { op: "zadd", key: "f:z", score: 1, member: "m" }];
    expect(await views.write(ops)).toBe(true);
    await handle.redis.hset("f:h", "y", "2");
    await views.forget(ops, "f:sentinel");
    expect(await handle.redis.exists("f:a", "f:sentinel")).toBe(0);
    expect(await handle.redis.hgetall("f:h")).toEqual({ y: "2" });
    expect(await handle.redis.zcard("f:z")).toBe(1);
  });

  it("fails writes while its connection is gone and writes again once it is back", async () => {
    const name = `live-views-${crypto.randomUUID().slice(0, 8)}`;
    const views = liveViews(handle.prefix, { retryStepMs: 20, name });
    await until(() => views.ready);
    const line = String(await handle.redis.client("LIST")).split("\n").find((entry) => entry.includes(` name=${name} `));
    const id = /(?:^|\s)id=(\d+)/.exec(line ?? "")?.[1];
    expect(id).toBeDefined();
    await handle.redis.client("KILL", "ID", id!);
    await until(() => !views.ready);
    await until(() => views.ready);
    expect(await views.write([{ op: "set", key: "k:after", value: Buffer.from("ok") }])).toBe(true);
    expect(await handle.redis.get("k:after")).toBe("ok");
  });

  it("fails a write Redis does not answer within the stall limit, then connects again", async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => {
      sockets.push(socket);
      // Answers the connection's CLIENT SETNAME, and nothing after it.
      socket.once("data", () => socket.write("+OK\r\n"));
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const views = new LiveViews(`redis://127.0.0.1:${port}`, "s:", { stallMs: 150, retryStepMs: 20 });
      open.push(views);
      await until(() => views.ready);
      const begin = performance.now();
      expect(await views.write([{ op: "set", key: "x", value: Buffer.from("1") }])).toBe(false);
      expect(performance.now() - begin).toBeGreaterThanOrEqual(140);
      await until(() => sockets.length >= 2 && views.ready);
      views.close();
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("fails at once, and says refused, when nothing listens", async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const views = new LiveViews(`redis://127.0.0.1:${port}`, "r:", { retryStepMs: 20 });
    open.push(views);
    await until(() => views.refused);
    const begin = performance.now();
    expect(await views.write([{ op: "set", key: "x", value: Buffer.from("1") }])).toBe(false);
    expect(performance.now() - begin).toBeLessThan(50);
    expect(views.ready).toBe(false);
  });
});
