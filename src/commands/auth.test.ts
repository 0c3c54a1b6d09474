import type { Router } from "@koa/router";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RouteModule } from "../http/route_module.ts";
import { databaseAvailable, databaseSkipReason } from "../testing/db.ts";
import { COMMANDS_TOKEN, OPERATOR_TOKEN, productBody, startCommandHarness, type CommandHarness } from "./test_support.ts";

const INVALID_TOKENS = ["not-a-known-token-31337", "test-commands-tokenX", "x".repeat(300), '"}{"level":60', "tok en-with-space"];

/** A dummy operator route, and a commands route that fails with a 500. */
const extra: RouteModule = {
  register(router: Router, context) {
    router.get("/v1/operator-dummy", context.requireScope("operator"), (ctx) => {
      ctx.body = { ok: true };
    });
    router.post("/v1/boom", context.requireScope("commands"), () => {
      throw new Error("driver exploded");
    });
  },
  docs: [],
};

describe.skipIf(!databaseAvailable)(`tokens and scopes (${databaseAvailable ? "PostgreSQL" : databaseSkipReason})`, () => {
  let h: CommandHarness;
  const logged: string[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        logged.push(chunk.toString("utf8"));
        callback();
      },
    });
    h = await startCommandHarness({ logger: pino({ level: "trace" }, sink), extraRoutes: [extra] });
  });
  afterAll(() => h?.close());

  it("never logs or answers a token, valid, invalid or malformed", async () => {
    const authorizations = [
      `Bearer ${COMMANDS_TOKEN}`, `bearer ${COMMANDS_TOKEN}`, `Bearer ${OPERATOR_TOKEN}`, `Basic ${COMMANDS_TOKEN}`, `${COMMANDS_TOKEN}`,
      `Bearer  ${COMMANDS_TOKEN}`, `Bearer ${COMMANDS_TOKEN} extra`,
      ...INVALID_TOKENS.map((token) => `Bearer ${token}`),
    ];
    const answers: string[] = [];
    for (const authorization of authorizations) {
      for (const [path, body] of [
        ["/v1/products", productBody()],
        ["/v1/products", { sku: "-" }],
        [`/v1/products/${crypto.randomUUID()}/price`, { priceCents: 1 }],
        ["/v1/products", "{broken"],
        ["/v1/boom", {}],
      ] as const) {
        const response = await h.post(path, body, { authorization, "x-request-id": `req-${answers.length}` });
        answers.push([...response.headers].join("\n"), await response.text());
      }
      const operator = await fetch(`${h.url}/v1/operator-dummy`, { headers: { authorization } });
      answers.push([...operator.headers].join("\n"), await operator.text());
    }
    const log = logged.join("");
    expect(log).toContain("request");
    expect(log).toContain("request failed");
    for (const token of [COMMANDS_TOKEN, OPERATOR_TOKEN, ...INVALID_TOKENS]) {
      expect(log.includes(token), `log contains ${token}`).toBe(false);
      expect(answers.some((answer) => answer.includes(token)), `an answer contains ${token}`).toBe(false);
    }
  });

  it("keeps operator routes out of reach of a commands-only token, and command routes of an operator-only one", async () => {
    const get = (authorization?: string) => fetch(`${h.url}/v1/operator-dummy`, authorization ? { headers: { authorization } } : {});
    const forbidden = await get(`Bearer ${COMMANDS_TOKEN}`);
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({ type: "forbidden", status: 403 });
    expect((await get()).status).toBe(401);
    expect((await get("Bearer nope")).status).toBe(401);
    expect((await get(`Bearer ${OPERATOR_TOKEN}`)).status).toBe(200);
    // RFC 6750: "Bearer" 1*SP b64token; the scheme is case-insensitive.
    expect((await get(`bearer   ${OPERATOR_TOKEN}`)).status).toBe(200);
    const before = await h.countEvents();
    const command = await h.post("/v1/products", productBody(), { authorization: `Bearer ${OPERATOR_TOKEN}` });
    expect(command.status).toBe(403);
    expect(await h.countEvents()).toBe(before);
  });
});
