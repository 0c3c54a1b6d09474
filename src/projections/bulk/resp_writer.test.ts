import net from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { createTestRedis, redisAvailable, redisSkipReason } from "../../testing/redis.ts";
import { frameView } from "../../shared/read_models.ts";
import { RespWriter } from "./resp_writer.ts";

describe.skipIf(!redisAvailable)(`RESP writer${redisAvailable ? "" : ` (${redisSkipReason})`}`, () => {
  const handle = createTestRedis();

  afterAll(async () => {
    await handle.cleanup();
    handle.redis.disconnect();
  });

  it("writes view operations, MULTI groups included, and waits for every reply", async () => {
    const writer = await RespWriter.connect(handle.url, handle.prefix);
    try {
      await writer.write([
        { op: "set", key: "v:1", value: Buffer.from("ünï\r\n\u0000bytes") },
        { op: "set", key: "gone", value: Buffer.from("x") },
        // A framed view: stored as frameView(etag, value) makes it (an empty body too).
        { op: "set", key: "framed", value: Buffer.from("{\"a\":\"ü\"}\r\n"), etag: '"abc-_09"' },
        { op: "set", key: "framed:empty", value: Buffer.alloc(0), etag: '"e"' },
        { op: "del", key: "gone" },
        { op: "zadd", key: "z", score: -3.5, member: "m1" },
        { op: "zadd", key: "z", score: 2, member: "m2" },
        { op: "hset", key: "h", field: "f ✓", value: Buffer.from("{}") },
        // Non-ASCII whose byte length has more digits than its length (5 characters, 10 bytes), and a surrogate pair.
        { op: "zadd", key: "zé", score: 7, member: "ééééé" },
        { op: "zadd", key: "zé", score: 8, member: "a😀" },
      ]);
      await writer.write([{ op: "zrem", key: "z", member: "m2" }, { op: "hdel", key: "h", field: "missing" }, { op: "zadd", key: "z", score: 1, member: "m3" }], true);
      // Many commands: several socket writes and replies split across chunks.
      const many = Array.from({ length: 30_000 }, (_, i) => ({ op: "set" as const, key: `many:${i}`, value: Buffer.alloc(64, i % 256) }));
      await writer.write(many);
      await writer.flush();
    } finally {
      writer.close();
    }
    expect((await handle.redis.getBuffer("v:1"))?.toString()).toBe("ünï\r\n\u0000bytes");
    expect(await handle.redis.exists("gone")).toBe(0);
    expect((await handle.redis.getBuffer("framed"))?.equals(frameView('"abc-_09"', Buffer.from("{\"a\":\"ü\"}\r\n")))).toBe(true);
    expect((await handle.redis.getBuffer("framed:empty"))?.equals(frameView('"e"', Buffer.alloc(0)))).toBe(true);
    expect(await handle.redis.zrange("z", 0, -1, "WITHSCORES")).toEqual(["m1", "-3.5", "m3", "1"]);
    expect(await handle.redis.hgetall("h")).toEqual({ "f ✓": "{}" });
    expect(await handle.redis.zrange("zé", 0, -1, "WITHSCORES")).toEqual(["ééééé", "7", "a😀", "8"]);
    expect((await handle.redis.getBuffer("many:29999"))?.equals(Buffer.alloc(64, 29999 % 256))).toBe(true);
  });

  it("sends a stage encoded ahead, in order, after what the writer buffered; an unsent stage writes nothing", async () => {
    const writer = await RespWriter.connect(handle.url, handle.prefix);
    try {
      const dropped = writer.stage();
      dropped.add({ op: "set", key: "staged:never", value: Buffer.from("x") });
      const stage = writer.stage();
      // Enough for several chunks of the stage.
      for (let i = 0; i < 20_000; i++) stage.add({ op: "zadd", key: "staged:z", score: i, member: `m${i}` });
      stage.add({ op: "zrem", key: "staged:z", member: "m0" });
      expect(stage.commands).toBe(20_001);
      await writer.write([{ op: "set", key: "staged:first", value: Buffer.from("1") }]);
      await writer.sendStage(stage);
      await writer.write([{ op: "zadd", key: "staged:z", score: -1, member: "after" }], true);
      await writer.flush();
    } finally {
      writer.close();
    }
    expect(await handle.redis.get("staged:first")).toBe("1");
    expect(await handle.redis.exists("staged:never")).toBe(0);
    expect(await handle.redis.zcard("staged:z")).toBe(20_000);
    expect(await handle.redis.zscore("staged:z", "m0")).toBeNull();
    expect(await handle.redis.zrange("staged:z", 0, 0)).toEqual(["after"]);
  });

  it("fails the flush on an error reply, also inside MULTI/EXEC", async () => {
    await handle.redis.hset("wrong", "f", "v");
    for (const atomic of [false, true]) {
      const writer = await RespWriter.connect(handle.url, handle.prefix);
      try {
        await writer.write([{ op: "set", key: "fine", value: Buffer.from("1") }, { op: "zadd", key: "wrong", score: 1, member: "m" }], atomic);
        await expect(writer.flush()).rejects.toThrow(/WRONGTYPE/);
      } finally {
        writer.close();
      }
    }
  });

  it("gives up on a server that takes the connection and never answers, and on one that refuses it", async () => {
    const accepted: net.Socket[] = [];
    const server = net.createServer((socket) => void accepted.push(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      await expect(RespWriter.connect(`redis://:secret@127.0.0.1:${port}`, "p:", 300)).rejects.toThrow(/timeout|closed/);
      // A mute server after connect: the stall limit ends the wait.
      const mute = net.createServer((socket) => void accepted.push(socket.on("data", () => undefined)));
      await new Promise<void>((resolve) => mute.listen(0, "127.0.0.1", resolve));
      const mutePort = (mute.address() as net.AddressInfo).port;
      const writer = await RespWriter.connect(`redis://127.0.0.1:${mutePort}`, "p:", 1000, 300);
      await writer.write([{ op: "set", key: "k", value: Buffer.from("v") }]);
      await expect(writer.flush()).rejects.toThrow(/did not answer/);
      expect(writer.usable).toBe(false);
      writer.close();
      for (const socket of accepted) socket.destroy();
      await new Promise<void>((resolve) => mute.close(() => resolve()));
    } finally {
      for (const socket of accepted) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const freePort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(RespWriter.connect(`redis://127.0.0.1:${freePort}`, "p:", 1000)).rejects.toThrow();
  });
});
