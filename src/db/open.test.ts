import { createServer, connect, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../testing/db.ts";
import { openDatabase } from "./open.ts";

/** A TCP forwarder to the test PostgreSQL, started only when asked: until then its port refuses connections. */
function forwarder(target: URL, port: number): { start(): Promise<void>; stop(): Promise<void> } {
  let server: Server | null = null;
  const sockets = new Set<Socket>();
  return {
    async start() {
      server = createServer((client) => {
        const upstream = connect(Number(target.port || 5432), target.hostname);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on("close", () => sockets.delete(socket));
          socket.on("error", () => undefined);
        }
        client.pipe(upstream).pipe(client);
      });
      await new Promise<void>((resolve) => server!.listen(port, "127.0.0.1", resolve));
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    },
  };
}

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe.skipIf(!databaseAvailable)(`opening the database (${databaseAvailable ? "PostgreSQL" : databaseSkipReason})`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false, poolSize: 2 });
  });
  afterAll(async () => db?.drop());

  it("waits for a PostgreSQL that is not reachable yet, then migrates", async () => {
    const target = new URL(db.url);
    const port = await freePort();
    const proxy = forwarder(target, port);
    const url = new URL(db.url);
    url.hostname = "127.0.0.1";
    url.port = String(port);
    const lines: string[] = [];
    const begin = performance.now();
    setTimeout(() => void proxy.start(), 1500);
    try {
      const database = await openDatabase({ databaseUrl: url.href, dataDir: ".data", databaseWaitMs: 20_000 }, { poolSize: 2, log: (line) => lines.push(line) });
      try {
        expect(performance.now() - begin).toBeGreaterThan(1400);
        expect(database.applied.length).toBeGreaterThan(0);
        expect(lines.some((line) => line.startsWith("PostgreSQL is not reachable yet"))).toBe(true);
      } finally {
        await database.close();
      }
    } finally {
      await proxy.stop();
    }
  });

  it("fails with the connection error once the wait is over (or at once with no wait)", async () => {
    const url = new URL(db.url);
    url.hostname = "127.0.0.1";
    url.port = String(await freePort());
    const begin = performance.now();
    await expect(openDatabase({ databaseUrl: url.href, dataDir: ".data", databaseWaitMs: 1200 }, { poolSize: 2 })).rejects.toThrow(/ECONNREFUSED|connect/);
    expect(performance.now() - begin).toBeGreaterThan(1100);
    await expect(openDatabase({ databaseUrl: url.href, dataDir: ".data", databaseWaitMs: 0 }, { poolSize: 2 })).rejects.toThrow(/ECONNREFUSED|connect/);
  });
});
