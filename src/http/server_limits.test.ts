import type { Router } from "@koa/router";
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "./app.ts";
import { readJsonBody } from "./body.ts";
import type { RouteModule } from "./route_module.ts";
import { startServer, type RunningServer } from "./server.ts";
import { openRaw, parseAnswer, rawRequest, type RawConnection } from "./test_raw_http.ts";

const echo: RouteModule = {
  register(router: Router) {
    router.post("/echo", async (ctx) => {
      ctx.body = { received: await readJsonBody(ctx) };
    });
  },
  docs: [],
};

const guarded: RouteModule = {
  register(router: Router, context) {
    router.post("/guarded", context.requireScope("commands"), (ctx) => {
      ctx.body = {};
    });
  },
  docs: [],
};

let server: RunningServer;

beforeAll(async () => {
  const app = createApp({ tokens: [], logger: pino({ level: "silent" }), routes: [echo], ready: async () => true, bodyTimeoutMs: 300 });
  server = await startServer(app, { port: 0, host: "127.0.0.1", headersTimeoutMs: 300, requestTimeoutMs: 1000, maxConnections: 1000 });
});
afterAll(() => server.close());

function expectProblem(answer: ReturnType<typeof parseAnswer>, status: number, type: string): void {
  expect(answer?.status).toBe(status);
  expect(answer?.headers["content-type"]).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(answer!.body) as { type: string; status: number; title: string };
  expect(body).toMatchObject({ type, status });
}

describe("requests the HTTP layer answers itself", () => {
  it("answers problem+json to a missing Host (400) and an expectation it cannot meet (417)", async () => {
    expectProblem(await rawRequest(server.url, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"), 400, "validation");
    // HTTP/1.0 has no Host requirement.
    expect((await rawRequest(server.url, "GET /healthz HTTP/1.0\r\n\r\n"))?.status).toBe(200);
    expectProblem(await rawRequest(server.url, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"), 417, "validation");
    // Node reads any value naming 100-continue as it; one with another expectation beside it is a 417 too (the first answer, no 100 Continue).
    expectProblem(await rawRequest(server.url, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue, foo\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"), 417, "validation");
    // A list of 100-continue alone is still 100-continue.
    expect((await rawRequest(server.url, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue,\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"))?.status).toBe(100);
    // Without Host, the 400 comes first, whatever the Expect (and no 100 Continue).
    expectProblem(await rawRequest(server.url, "POST /echo HTTP/1.1\r\nExpect: 200-ok\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"), 400, "validation");
    const noHost = await rawRequest(server.url, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n");
    expectProblem(noHost, 400, "validation");
    // Two Host lines, or one that is not a host, are a 400 too; a host with a port or an IPv6 literal is fine.
    expectProblem(await rawRequest(server.url, "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n"), 400, "validation");
    expectProblem(await rawRequest(server.url, "GET /healthz HTTP/1.1\r\nHost: a b/c\r\nConnection: close\r\n\r\n"), 400, "validation");
    for (const host of ["example.com:3000", "[::1]:8080", "127.0.0.1"]) expect((await rawRequest(server.url, `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`))?.status, host).toBe(200);
  });

  it("Expect: 100-continue: invites a body within the limit, answers 413 without inviting one over it", async () => {
    const small = await openRaw(server.url);
    small.socket.write("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: 8\r\nConnection: close\r\n\r\n");
    const invited = await new Promise<string>((resolve) => small.socket.once("data", (chunk: Buffer) => resolve(chunk.toString("latin1"))));
    expect(invited).toMatch(/^HTTP\/1\.1 100 Continue/);
    small.socket.write('{"a": 1}');
    const raw = (await small.closed).toString("latin1");
    expect(parseAnswer(Buffer.from(raw.slice(raw.indexOf("HTTP/1.1", 1)), "latin1"))?.status).toBe(200);

    const large = await openRaw(server.url);
    large.socket.write("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: 70000\r\n\r\n");
    const answered = (await large.closed).toString("latin1");
    expect(answered).not.toContain("100 Continue");
    expectProblem(parseAnswer(Buffer.from(answered, "latin1")), 413, "payload_too_large");
  });
});

describe("server limits", () => {
  it("closes a connection whose headers trickle in slower than the headers timeout (408)", async () => {
    const connection = await openRaw(server.url);
    const head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + "a".repeat(200);
    let sent = 0;
    // Keep sending one byte every 50 ms: the head never completes, the timeout must end it.
    const drip = (async () => {
      for (const byte of head) {
        if (connection.socket.destroyed || !connection.socket.writable) return;
        connection.socket.write(byte);
        sent++;
        await sleep(50);
      }
    })();
    const received = await connection.closed;
    await drip;
    expect(sent).toBeLessThan(head.length);
    const answer = parseAnswer(received);
    if (answer !== null) expectProblem(answer, 408, "validation");
  });

  it("answers 431 problem+json to headers over 16 KiB", async () => {
    const answer = await rawRequest(server.url, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20 * 1024)}\r\nConnection: close\r\n\r\n`);
    expectProblem(answer, 431, "payload_too_large");
  });

  it("answers 400 problem+json to a malformed request and to control characters in a header", async () => {
    expectProblem(await rawRequest(server.url, "HELLO THERE\r\n\r\n"), 400, "validation");
    expectProblem(await rawRequest(server.url, "GET /healthz HTTP/1.1\r\nHost: x\r\nIdempotency-Key: a\x01b\r\nConnection: close\r\n\r\n"), 400, "validation");
    expectProblem(await rawRequest(server.url, "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), 400, "validation");
  });

  it("answers 408 and closes the connection when a body stalls", async () => {
    const connection = await openRaw(server.url);
    connection.socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":');
    const answer = parseAnswer(await connection.closed);
    expectProblem(answer, 408, "validation");
  });

  it("closes the connection after an error answered before the body was read (no draining)", async () => {
    const app = createApp({ tokens: [], logger: pino({ level: "silent" }), routes: [guarded], ready: async () => true });
    const patient = await startServer(app, { port: 0, host: "127.0.0.1", requestTimeoutMs: 120_000 });
    try {
      const connection = await openRaw(patient.url);
      connection.socket.write('POST /guarded HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":');
      const answer = parseAnswer(await connection.closed);
      expectProblem(answer, 401, "unauthorized");
      expect(answer?.headers["connection"]).toBe("close");
    } finally {
      await patient.close();
    }
  });

  it("serves a normal request while 200 idle connections are open", async () => {
    const idle: RawConnection[] = [];
    for (let i = 0; i < 200; i++) idle.push(await openRaw(server.url));
    const response = await fetch(`${server.url}/echo`, { method: "POST", body: '{"ok":true}', headers: { "content-type": "application/json" } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: { ok: true } });
    for (const connection of idle) connection.socket.destroy();
    await Promise.all(idle.map((connection) => connection.closed));
  });

  it("refuses connections beyond maxConnections and serves again once they go", async () => {
    const app = createApp({ tokens: [], logger: pino({ level: "silent" }), routes: [], ready: async () => true });
    const small = await startServer(app, { port: 0, host: "127.0.0.1", maxConnections: 3 });
    try {
      const held = [await openRaw(small.url), await openRaw(small.url), await openRaw(small.url)];
      // Wait until the server has counted them.
      while ((await new Promise<number>((resolve) => small.server.getConnections((_e, n) => resolve(n)))) < 3) await sleep(5);
      const refused = await openRaw(small.url);
      expect((await refused.closed).length).toBe(0);
      for (const connection of held) connection.socket.destroy();
      await Promise.all(held.map((connection) => connection.closed));
      while ((await new Promise<number>((resolve) => small.server.getConnections((_e, n) => resolve(n)))) > 0) await sleep(5);
      expect((await fetch(`${small.url}/healthz`)).status).toBe(200);
    } finally {
      await small.close();
    }
  });
});

describe("fast path", () => {
  it("leaves requests to the app once the server is closing, so they are told to close the connection (no crash)", async () => {
    const slow: RouteModule = {
      register(router: Router) {
        router.get("/slow", async (ctx) => {
          await sleep(200);
          ctx.body = { slow: true };
        });
        router.get("/fast", (ctx) => {
          ctx.body = { via: "app" };
        });
      },
      docs: [],
    };
    const app = createApp({ tokens: [], logger: pino({ level: "silent" }), routes: [slow], ready: async () => true });
    const fastPath = (req: IncomingMessage, res: ServerResponse): boolean => {
      if (req.url !== "/fast") return false;
      res.setHeader("Content-Type", "application/json");
      res.end('{"via":"fast path"}');
      return true;
    };
    const running = await startServer(app, { port: 0, host: "127.0.0.1", fastPath });
    expect((await rawRequest(running.url, "GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))!.body).toBe('{"via":"fast path"}');
    // The server starts closing while a request is in flight; a second request then arrives
    // on the same connection.
    const connection = await openRaw(running.url);
    connection.socket.write("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    await sleep(50);
    const closed = running.close();
    await sleep(20);
    connection.socket.write("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
    const raw = (await connection.closed).toString("latin1");
    await closed;
    const second = raw.indexOf("HTTP/1.1", 1);
    expect(second).toBeGreaterThan(0);
    const answer = parseAnswer(Buffer.from(raw.slice(second), "latin1"));
    expect(answer?.status).toBe(200);
    expect(answer?.headers["connection"]).toBe("close");
    expect(JSON.parse(answer!.body)).toEqual({ via: "app" });
  });
});
