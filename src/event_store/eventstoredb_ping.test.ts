import net from "node:net";
import { describe, expect, it } from "vitest";
import { StoreUnavailableError } from "../shared/errors.ts";
import { connectEventStoreDbStore, createEventStoreDbStore } from "./eventstoredb.ts";

/** A loopback port where nothing listens (bound, then released). */
async function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

describe("EventStoreDB store against an address where nothing listens", () => {
  it("rejects ping() promptly with one clear line", async () => {
    const port = await unusedPort();
    const store = createEventStoreDbStore({ connectionString: `esdb://127.0.0.1:${port}?tls=false`, pingTimeoutMs: 3000 });
    try {
      const error = await store.ping().then(() => null, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      const message = (error as Error).message;
      expect(message).toContain(`EventStoreDB at esdb://127.0.0.1:${port} did not answer a ping`);
      expect(message).not.toContain("\n");
      expect(message).toMatch(/ECONNREFUSED|UNAVAILABLE/);
      expect(message).not.toContain("Resolution note");
      expect((error as StoreUnavailableError).status).toBe(503);
    } finally {
      await store.close();
    }
  });

  it("rejects ping() at its deadline when a server accepts connections but never answers", async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const address = silent.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const store = createEventStoreDbStore({ connectionString: `esdb://127.0.0.1:${port}?tls=false`, pingTimeoutMs: 500 });
    try {
      const error = await store.ping().then(() => null, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toBe(`EventStoreDB at esdb://127.0.0.1:${port} did not answer a ping: no answer within 500 ms`);
    } finally {
      await store.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("connectEventStoreDbStore rejects instead of returning a dead store", async () => {
    const port = await unusedPort();
    await expect(connectEventStoreDbStore({ connectionString: `esdb://127.0.0.1:${port}?tls=false`, pingTimeoutMs: 2000 })).rejects.toThrow(
      /did not answer a ping/,
    );
  });

  it("maps a failed read to StoreUnavailableError (503), not a hang", async () => {
    const port = await unusedPort();
    const store = createEventStoreDbStore({ connectionString: `esdb://127.0.0.1:${port}?tls=false` });
    try {
      await expect(store.readStream("anything")).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await store.close();
    }
  });
});
