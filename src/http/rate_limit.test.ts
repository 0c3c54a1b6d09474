import type { Router } from "@koa/router";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "./app.ts";
import { RateLimiter } from "./rate_limit.ts";
import type { RouteModule } from "./route_module.ts";
import { startServer, type RunningServer } from "./server.ts";

describe("RateLimiter", () => {
  it("allows a burst of 2 × rate, then refills at the rate and says how long to wait", () => {
    let now = 0;
    const limiter = new RateLimiter({ rate: 2, now: () => now });
    for (let i = 0; i < 4; i++) expect(limiter.take("a")).toBe(0);
    expect(limiter.take("a")).toBe(1);
    expect(limiter.take("b")).toBe(0);
    now += 500;
    expect(limiter.take("a")).toBe(0);
    expect(limiter.take("a")).toBe(1);
    const slow = new RateLimiter({ rate: 0.1, now: () => now });
    expect(slow.take("a")).toBe(0);
    expect(slow.take("a")).toBe(10);
  });

  it("keeps memory bounded: evicts refilled idle buckets and caps the client count", () => {
    let now = 0;
    const limiter = new RateLimiter({ rate: 10, maxClients: 50, now: () => now });
    for (let i = 0; i < 1000; i++) limiter.take(`client-${i}`);
    expect(limiter.size).toBe(50);
    now += 10_000;
    for (let i = 0; i < 10; i++) limiter.take("fresh");
    expect(limiter.size).toBeLessThan(50);
  });
});

const TOKEN = "rate-token";
const OTHER = "rate-token-2";
const OPS = "rate-ops";

describe("command rate limit", () => {
  let server: RunningServer;
  let now = 0;
  beforeAll(async () => {
    const routes: RouteModule = {
      register(router: Router, context) {
        router.post("/command", context.requireScope("commands"), (ctx) => {
          ctx.body = { ok: true };
        });
        router.get("/operate", context.requireScope("operator"), (ctx) => {
          ctx.body = { ok: true };
        });
      },
      docs: [],
    };
    const app = createApp({
      tokens: [{ token: TOKEN, scopes: ["commands"] }, { token: OTHER, scopes: ["commands"] }, { token: OPS, scopes: ["operator"] }],
      logger: pino({ level: "silent" }),
      routes: [routes],
      ready: async () => true,
      commandRateLimit: { rate: 1, now: () => now },
    });
    server = await startServer(app, { port: 0, host: "127.0.0.1" });
  });
  afterAll(() => server.close());

  const post = (authorization: string) => fetch(`${server.url}/command`, { method: "POST", headers: { authorization } });

  it("answers 429 problem+json with Retry-After beyond the burst, per token, and again after refill", async () => {
    expect((await post(`Bearer ${TOKEN}`)).status).toBe(200);
    // Another spelling of the scheme is the same client.
    expect((await post(`bearer ${TOKEN}`)).status).toBe(200);
    const limited = await post(`BEARER ${TOKEN}`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("1");
    expect(limited.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(await limited.json()).toMatchObject({ type: "unavailable", title: "Too many requests", status: 429 });
    expect((await post(`Bearer ${OTHER}`)).status).toBe(200);
    now += 1000;
    expect((await post(`Bearer ${TOKEN}`)).status).toBe(200);
    expect((await post(`Bearer ${TOKEN}`)).status).toBe(429);
  });

  it("limits requests without a known token by address, before auth; other routes are not limited", async () => {
    now += 10_000;
    expect((await post("Bearer nope-1")).status).toBe(401);
    expect((await post("Bearer nope-2")).status).toBe(401);
    expect((await post("garbage")).status).toBe(429);
    for (let i = 0; i < 5; i++) expect((await fetch(`${server.url}/operate`, { headers: { authorization: `Bearer ${OPS}` } })).status).toBe(200);
  });

  it("is off when the rate is 0", async () => {
    const app = createApp({ tokens: [], logger: pino({ level: "silent" }), routes: [], ready: async () => true, commandRateLimit: 0 });
    const off = await startServer(app, { port: 0, host: "127.0.0.1" });
    try {
      for (let i = 0; i < 5; i++) expect((await fetch(`${off.url}/healthz`)).status).toBe(200);
    } finally {
      await off.close();
    }
  });
});
