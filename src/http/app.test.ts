import { gzipSync } from "node:zlib";
import type { Router } from "@koa/router";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readJsonBody } from "./body.ts";
import { READY_TIMEOUT_MS } from "./health.ts";
import { createApp } from "./app.ts";
import type { RouteModule } from "./route_module.ts";
import { startServer, type RunningServer } from "./server.ts";
import { openRaw } from "./test_raw_http.ts";
import { UnavailableError } from "../shared/errors.ts";

let ready: boolean | "hang" = true;
/** Past /readyz's own 2 s timeout, so that its test sees its own answer. */
const DEADLINE_MS = 3000;
const echo: RouteModule = {
  register(router: Router, context) {
    router.post("/echo", context.requireScope("commands"), async (ctx) => {
      ctx.body = { received: await readJsonBody(ctx) };
    });
    router.get("/boom", () => {
      throw new Error("secret internals: SELECT * FROM users");
    });
    router.get("/down", () => {
      throw new UnavailableError("store down", 3);
    });
    router.get("/hang", () => new Promise<void>(() => undefined));
    router.post("/late", async (ctx) => {
      await new Promise((resolve) => setTimeout(resolve, DEADLINE_MS + 300));
      ctx.body = { late: true };
    });
    router.get("/pgdown", () => {
      throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    });
  },
  docs: [],
};

let server: RunningServer;
/** The app's log lines, parsed. */
const logged: Array<Record<string, unknown>> = [];
const auth = { authorization: "Bearer cmd-token", "content-type": "application/json" };

beforeAll(async () => {
  const app = createApp({
    tokens: [{ token: "cmd-token", scopes: ["commands"] }, { token: "ops-token", scopes: ["operator"] }],
    logger: pino({ level: "info" }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) }),
    routes: [echo],
    requestDeadlineMs: DEADLINE_MS,
    ready: async () => (ready === "hang" ? new Promise<boolean>(() => undefined) : ready),
  });
  server = await startServer(app, { port: 0, host: "127.0.0.1" });
});
afterAll(() => server.close());

async function problem(response: Response) {
  expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  return (await response.json()) as { type: string; status: number; title: string; detail?: string; errors?: unknown[] };
}

describe("http app", () => {
  it("counts a client that goes away mid-body as a 4xx, not as a failure of ours (no error line, no 500)", async () => {
    logged.length = 0;
    for (const head of ["Content-Length: 50\r\n", "Transfer-Encoding: chunked\r\n"]) {
      const connection = await openRaw(server.url);
      connection.socket.write(`POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer cmd-token\r\nContent-Type: application/json\r\n${head}\r\n${head.startsWith("Transfer") ? "7\r\n" : ""}{"sku":`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      connection.socket.destroy();
    }
    const until = performance.now() + 3000;
    while (logged.filter((line) => line["msg"] === "request").length < 2 && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    const access = logged.filter((line) => line["msg"] === "request");
    expect(access.map((line) => line["status"])).toEqual([400, 400]);
    expect(logged.filter((line) => Number(line["level"]) >= 50)).toEqual([]);
  });

  it("logs a store outage's 503s as one warning a second without a stack, and other failures as errors", async () => {
    logged.length = 0;
    for (let i = 0; i < 5; i++) {
      expect((await fetch(`${server.url}/pgdown`)).status).toBe(503);
      expect((await fetch(`${server.url}/down`)).status).toBe(503);
    }
    expect((await fetch(`${server.url}/boom`)).status).toBe(500);
    const warnings = logged.filter((line) => line["msg"] === "request answered 503: a store is unavailable");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, error: "connect ECONNREFUSED 127.0.0.1:5432" });
    expect(warnings[0]).not.toHaveProperty("err");
    // Their access lines are info (the warning above tells the outage); a 500's stays warn.
    const access = logged.filter((line) => line["msg"] === "request");
    expect(access.filter((line) => line["status"] === 503).map((line) => line["level"])).toEqual(new Array(10).fill(30));
    expect(access.filter((line) => line["status"] === 500).map((line) => line["level"])).toEqual([40]);
    const errors = logged.filter((line) => line["msg"] === "request failed");
    expect(errors).toHaveLength(1);
    expect((errors[0]!["err"] as { message: string }).message).toContain("secret internals");
  });

  it("answers /healthz and /readyz publicly; /readyz follows the ready check", async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    ready = false;
    const response = await fetch(`${server.url}/readyz`);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect((await problem(response)).type).toBe("unavailable");
    // A check that never answers (a frozen store) is not ready either, after READY_TIMEOUT_MS.
    ready = "hang";
    const started = performance.now();
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
    expect(performance.now() - started).toBeGreaterThanOrEqual(READY_TIMEOUT_MS - 50);
    ready = true;
  });

  it("echoes or makes a request id", async () => {
    const given = await fetch(`${server.url}/healthz`, { headers: { "x-request-id": "abc-123" } });
    expect(given.headers.get("x-request-id")).toBe("abc-123");
    const made = await fetch(`${server.url}/healthz`);
    expect(made.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers 404 and 405 (with Allow) as problem+json", async () => {
    const missing = await fetch(`${server.url}/nope`);
    expect(missing.status).toBe(404);
    expect((await problem(missing)).type).toBe("not_found");
    const wrong = await fetch(`${server.url}/echo`, { method: "GET" });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toContain("POST");
    expect((await problem(wrong)).status).toBe(405);
  });

  it("answers 401 without or with an unknown token and 403 without the scope", async () => {
    const none = await fetch(`${server.url}/echo`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    expect(none.status).toBe(401);
    expect((await problem(none)).type).toBe("unauthorized");
    const unknown = await fetch(`${server.url}/echo`, { method: "POST", body: "{}", headers: { ...auth, authorization: "Bearer cmd-tokeN" } });
    expect(unknown.status).toBe(401);
    const scheme = await fetch(`${server.url}/echo`, { method: "POST", body: "{}", headers: { ...auth, authorization: "Basic cmd-token" } });
    expect(scheme.status).toBe(401);
    const forbidden = await fetch(`${server.url}/echo`, { method: "POST", body: "{}", headers: { ...auth, authorization: "Bearer ops-token" } });
    expect(forbidden.status).toBe(403);
    expect((await problem(forbidden)).type).toBe("forbidden");
  });

  it("reads JSON bodies; an empty body reads as {}", async () => {
    const ok = await fetch(`${server.url}/echo`, { method: "POST", body: '{"a":[1,"é"]}', headers: { ...auth, "content-type": "application/json; charset=utf-8" } });
    expect(await ok.json()).toEqual({ received: { a: [1, "é"] } });
    const empty = await fetch(`${server.url}/echo`, { method: "POST", headers: { authorization: auth.authorization } });
    expect(await empty.json()).toEqual({ received: {} });
  });

  it("answers 415 for a non-JSON body, 400 for invalid JSON or UTF-8", async () => {
    const text = await fetch(`${server.url}/echo`, { method: "POST", body: "{}", headers: { ...auth, "content-type": "text/plain" } });
    expect(text.status).toBe(415);
    expect((await problem(text)).type).toBe("unsupported_media_type");
    const latin = await fetch(`${server.url}/echo`, { method: "POST", body: "{}", headers: { ...auth, "content-type": "application/json; charset=latin1" } });
    expect(latin.status).toBe(415);
    const broken = await fetch(`${server.url}/echo`, { method: "POST", body: '{"a":', headers: auth });
    expect(broken.status).toBe(400);
    expect((await problem(broken)).type).toBe("validation");
    const badUtf8 = await fetch(`${server.url}/echo`, { method: "POST", body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), headers: auth });
    expect(badUtf8.status).toBe(400);
  });

  it("answers 415 for a compressed body (Content-Encoding), naming the coding", async () => {
    for (const coding of ["gzip", "br", "deflate"]) {
      const compressed = await fetch(`${server.url}/echo`, { method: "POST", body: gzipSync('{"a":1}'), headers: { ...auth, "content-encoding": coding } });
      expect(compressed.status).toBe(415);
      const body = await problem(compressed);
      expect(body.type).toBe("unsupported_media_type");
      expect(body.detail).toContain(coding);
    }
    const identity = await fetch(`${server.url}/echo`, { method: "POST", body: '{"a":1}', headers: { ...auth, "content-encoding": "identity" } });
    expect(await identity.json()).toEqual({ received: { a: 1 } });
  });

  it("answers 413 for a body over 64 KiB, by Content-Length or while streaming", async () => {
    const big = JSON.stringify({ pad: "x".repeat(70 * 1024) });
    const declared = await fetch(`${server.url}/echo`, { method: "POST", body: big, headers: auth });
    expect(declared.status).toBe(413);
    expect((await problem(declared)).type).toBe("payload_too_large");
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 80; i++) controller.enqueue(new TextEncoder().encode("x".repeat(1024)));
        controller.close();
      },
    });
    const chunked = await fetch(`${server.url}/echo`, { method: "POST", body: stream, headers: auth, duplex: "half" } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  it("hides internals in 500s and maps outages to 503 with Retry-After", async () => {
    const boom = await fetch(`${server.url}/boom`);
    expect(boom.status).toBe(500);
    const body = await problem(boom);
    expect(body.type).toBe("internal");
    expect(JSON.stringify(body)).not.toContain("SELECT");
    const down = await fetch(`${server.url}/down`);
    expect(down.status).toBe(503);
    expect(down.headers.get("retry-after")).toBe("3");
    const pgDown = await fetch(`${server.url}/pgdown`);
    expect(pgDown.status).toBe(503);
    expect(pgDown.headers.get("retry-after")).toBe("1");
    expect(JSON.stringify(await problem(pgDown))).not.toContain("ECONNREFUSED");
  });

  it("answers 503 + Retry-After when a request takes longer than the deadline, and ignores what its handler sets later", { timeout: 15_000 }, async () => {
    const started = performance.now();
    const response = await fetch(`${server.url}/hang`);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect((await problem(response)).type).toBe("unavailable");
    expect(performance.now() - started).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
    expect(performance.now() - started).toBeLessThan(DEADLINE_MS + 2000);
    const late = await fetch(`${server.url}/late`, { method: "POST" });
    expect(late.status).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, 600));
    // The server is fine after the late handler finished.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

describe("startServer close", () => {
  it("lets an in-flight request finish, then stops", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const entered = new Promise<void>((resolve) => (started = resolve));
    const slow: RouteModule = {
      register(router) {
        router.get("/slow", async (ctx) => {
          started();
          await gate;
          ctx.body = { done: true };
        });
      },
      docs: [],
    };
    const app = createApp({ tokens: [], logger: pino({ level: "silent" }), routes: [slow], ready: async () => true });
    const running = await startServer(app, { port: 0, host: "127.0.0.1" });
    const inFlight = fetch(`${running.url}/slow`);
    await entered;
    const closed = running.close();
    release();
    const response = await inFlight;
    expect(await response.json()).toEqual({ done: true });
    await closed;
    await expect(fetch(`${running.url}/healthz`)).rejects.toThrow();
  });
});

describe("createApp middleware option", () => {
  it("runs extra middleware after the request id and outside the error middleware, so it sees final statuses", async () => {
    const seen: Array<{ status: number; requestId: unknown }> = [];
    const boom: RouteModule = {
      register(router) {
        router.get("/fail", () => {
          throw new Error("hidden");
        });
      },
      docs: [],
    };
    const app = createApp({
      tokens: [],
      logger: pino({ level: "silent" }),
      routes: [boom],
      ready: async () => true,
      middleware: [
        async (ctx, next) => {
          await next();
          seen.push({ status: ctx.status, requestId: ctx.state["requestId"] });
        },
      ],
    });
    const running = await startServer(app, { port: 0, host: "127.0.0.1" });
    try {
      await fetch(`${running.url}/fail`, { headers: { "x-request-id": "r-1" } });
      await fetch(`${running.url}/missing`, { headers: { "x-request-id": "r-2" } });
      await fetch(`${running.url}/healthz`, { headers: { "x-request-id": "r-3" } });
      expect(seen).toEqual([{ status: 500, requestId: "r-1" }, { status: 404, requestId: "r-2" }, { status: 200, requestId: "r-3" }]);
    } finally {
      await running.close();
    }
  });
});
