import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawRequest, type RawAnswer } from "../http/test_raw_http.ts";
import { databaseAvailable, databaseSkipReason } from "../testing/db.ts";
import { COMMANDS_TOKEN, productBody, startCommandHarness, type CommandHarness } from "./test_support.ts";

/** The contract's closed list of problem types. */
const PROBLEM_TYPES = new Set([
  "validation", "unauthorized", "forbidden", "not_found", "conflict", "precondition_failed",
  "payload_too_large", "unsupported_media_type", "unprocessable", "unavailable", "internal",
]);
const RUNS = 300;

const NASTY_STRINGS = [
  "", " ", "'; DROP TABLE events; --", "\r\n*1\r\n$8\r\nFLUSHALL\r\n", "\u0000", "a\u0000b", "\ud800", "x\udfffy",
  "💥".repeat(300), "x".repeat(5001), "__proto__", "constructor", "null", "NaN", "1e309", "../../etc/passwd",
  "<script>alert(1)</script>", "${jndi:ldap://x}", "%00", "\u202e", "A".repeat(65), "EUR ", "eur",
];
/** Number literals as JSON text (1e309 parses to Infinity; -0 and 2**53+1 survive as numbers). */
const NASTY_NUMBERS = ["1e309", "-1e309", "-0", "0", "-1", "1.5", "1e-7", "9007199254740993", "9007199254740992", "100000001", "1000001", "-1000001", "4294967296", "1e21", "0.1e1", "12"];

/** A JSON value rendered as JSON text, mixing fast-check values with the nasty lists. */
const wildJson: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc.constantFrom(...NASTY_STRINGS).map((value) => JSON.stringify(value)),
  fc.constantFrom(...NASTY_NUMBERS),
  fc.string({ unit: "binary", maxLength: 80 }).map((value) => JSON.stringify(value)),
);

/** A field's JSON text: usually wild, sometimes valid (so some requests get through). */
function field(valid: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc.oneof({ arbitrary: valid.map((value) => JSON.stringify(value)), weight: 5 }, { arbitrary: wildJson, weight: 1 });
}

/** A JSON object text with some of the fields and maybe extra, duplicated or prototype keys. */
function objectText(fields: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
  const entries = Object.entries(fields).map(([name, value]) => fc.option(value.map((text) => `${JSON.stringify(name)}:${text}`), { nil: undefined }));
  const extra = fc.option(fc.tuple(fc.constantFrom("extra", "__proto__", "constructor", "", "ID"), wildJson).map(([name, text]) => `${JSON.stringify(name)}:${text}`), { freq: 4, nil: undefined });
  return fc.tuple(fc.tuple(...entries), extra, fc.boolean()).map(([parts, more, duplicate]) => {
    const present = parts.filter((part): part is string => part !== undefined);
    if (duplicate && present[0]) present.push(present[0]);
    if (more) present.push(more);
    return `{${present.join(",")}}`;
  });
}

/** A body: the route's object (mostly), any JSON, or broken bytes. */
function bodyOf(object: fc.Arbitrary<string>): fc.Arbitrary<string | Uint8Array | undefined> {
  return fc.oneof(
    { arbitrary: object, weight: 6 },
    { arbitrary: wildJson, weight: 1 },
    { arbitrary: fc.string({ maxLength: 40 }), weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 40 }), weight: 1 },
    { arbitrary: fc.constant(undefined), weight: 1 },
  );
}

const headerText = fc.stringMatching(/^[\x21-\x7e]{1,220}$/);
/** One header: absent with weight `absent`, else a usual value (`usual`) or a wild one. */
function header(absent: number, usual: fc.Arbitrary<string>, wild: fc.Arbitrary<string>): fc.Arbitrary<string | undefined> {
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: absent }, { arbitrary: usual, weight: 4 }, { arbitrary: wild, weight: 1 });
}
const headersArb: fc.Arbitrary<Record<string, string>> = fc
  .record({
    "if-match": header(12, fc.constantFrom('"1"', "1", '"2"', "*", 'W/"1"'), fc.oneof(fc.constantFrom('"999999999999999999"', '"-1"', '"1.5"', '"0x1"', '"1", "2"'), headerText)),
    "idempotency-key": header(12, fc.uuid(), fc.oneof(headerText, fc.constant("k".repeat(201)))),
    "content-type": header(0, fc.constant("application/json"), fc.constantFrom("text/plain", "application/json; charset=latin1", "application/json;;;", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "APPLICATION/JSON; CHARSET=UTF-8", "application/json; charset=utf-16")),
    authorization: header(0, fc.constantFrom(`Bearer ${COMMANDS_TOKEN}`, `bearer ${COMMANDS_TOKEN}`), fc.constantFrom("Bearer nope", "Basic abc", `Bearer ${COMMANDS_TOKEN}x`, `Bearer  ${COMMANDS_TOKEN}`)),
  })
  .map((headers) => Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined)));

const uuidArb = fc.uuid();
const label = fc.stringMatching(/^[A-Za-z0-9 ._-]{1,64}$/);

describe.skipIf(!databaseAvailable)(`command routes under random and adversarial input (${databaseAvailable ? "PostgreSQL" : databaseSkipReason})`, () => {
  let h: CommandHarness;
  let lastCount = 0;
  const statuses = new Map<number, number>();
  let productId = "";
  let orderId = "";

  beforeAll(async () => {
    h = await startCommandHarness();
    const product = await h.post("/v1/products", productBody({ stock: 10 }));
    productId = ((await product.json()) as { id: string }).id;
    const order = await h.post("/v1/orders", { customerId: crypto.randomUUID(), lines: [{ productId, quantity: 1 }] });
    orderId = ((await order.json()) as { id: string }).id;
    lastCount = await h.countEvents();
  });
  afterAll(() => h?.close());

  /** Asserts the contract for one answer: no 5xx, problem+json with a contract type on 4xx, nothing stored unless 2xx. */
  async function verify(status: number, contentType: string, text: string, label: string): Promise<void> {
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    expect(status, label).toBeLessThan(500);
    expect(status, label).toBeGreaterThanOrEqual(200);
    const count = await h.countEvents();
    if (status >= 400) {
      expect(contentType, label).toMatch(/^application\/problem\+json/);
      const problem = JSON.parse(text) as { type: string; status: number; title: string };
      expect(PROBLEM_TYPES.has(problem.type), `${label}: ${text}`).toBe(true);
      expect(problem.status, label).toBe(status);
      expect(typeof problem.title, label).toBe("string");
      expect(count, `${label}: stored events on ${status}`).toBe(lastCount);
    } else {
      expect(JSON.parse(text), label).toMatchObject({ id: expect.any(String), version: expect.any(Number), position: expect.any(String) });
    }
    lastCount = count;
  }

  async function send(path: string, body: string | Uint8Array | undefined, headers: Record<string, string>): Promise<void> {
    const init: RequestInit = { method: "POST", headers: { authorization: `Bearer ${COMMANDS_TOKEN}`, "content-type": "application/json", ...headers } };
    if (body !== undefined) init.body = body;
    const response = await fetch(`${h.url}${path}`, init);
    const text = await response.text();
    await verify(response.status, response.headers.get("content-type") ?? "", text, `POST ${path} ${JSON.stringify(headers)} ${String(body).slice(0, 300)}`);
  }

  async function sendRaw(request: string | Buffer): Promise<RawAnswer | null> {
    const answer = await rawRequest(h.url, request);
    expect(answer, String(request).slice(0, 200)).not.toBeNull();
    await verify(answer!.status, answer!.headers["content-type"] ?? "", answer!.body, String(request).slice(0, 200));
    return answer;
  }

  const idSegment = () =>
    fc.oneof(
      { arbitrary: fc.constantFrom(productId, orderId, productId.toUpperCase()), weight: 3 },
      { arbitrary: uuidArb, weight: 1 },
      { arbitrary: fc.constantFrom("not-a-uuid", "%ZZ", "..%2F..%2Fetc", "%00", "'%20OR%201%3D1%20--", "x".repeat(3000), "%F0%9F%92%A5", "00000000-0000-0000-0000-000000000000", "%E2%80%AE"), weight: 1 },
      { arbitrary: fc.string({ maxLength: 40 }).map(encodeURIComponent), weight: 1 },
    );

  const routes: Array<{ name: string; path: () => fc.Arbitrary<string>; body: () => fc.Arbitrary<string> }> = [
    {
      name: "POST /v1/products",
      path: () => fc.constant("/v1/products"),
      body: () => objectText({
        id: field(uuidArb),
        sku: field(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/)),
        name: field(fc.string({ minLength: 1, maxLength: 200 })),
        description: field(fc.string({ maxLength: 100 })),
        category: field(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,63}$/)),
        priceCents: field(fc.integer({ min: 0, max: 100_000_000 })),
        currency: field(fc.constantFrom("EUR", "USD")),
        stock: field(fc.integer({ min: 0, max: 1_000_000 })),
      }),
    },
    { name: "price", path: () => idSegment().map((id) => `/v1/products/${id}/price`), body: () => objectText({ priceCents: field(fc.integer({ min: 0, max: 100_000_000 })) }) },
    { name: "details", path: () => idSegment().map((id) => `/v1/products/${id}/details`), body: () => objectText({ name: field(fc.string({ minLength: 1, maxLength: 200 })), description: field(fc.string()), category: field(fc.constantFrom("kitchen", "office")) }) },
    { name: "stock", path: () => idSegment().map((id) => `/v1/products/${id}/stock`), body: () => objectText({ delta: field(fc.integer({ min: -5, max: 5 })), reason: field(fc.string({ maxLength: 200 })) }) },
    { name: "discontinue", path: () => idSegment().map((id) => `/v1/products/${id}/discontinue`), body: () => objectText({}) },
    {
      name: "POST /v1/orders",
      path: () => fc.constant("/v1/orders"),
      body: () => objectText({
        id: field(uuidArb),
        customerId: field(uuidArb),
        lines: fc.oneof(
          fc.array(objectText({ productId: field(fc.constantFrom(productId)), quantity: field(fc.integer({ min: 1, max: 1000 })) }), { maxLength: 3 }).map((lines) => `[${lines.join(",")}]`),
          wildJson,
        ),
      }),
    },
    { name: "pay", path: () => idSegment().map((id) => `/v1/orders/${id}/pay`), body: () => objectText({ paymentId: field(uuidArb), amountCents: field(fc.integer({ min: 0, max: 5000 })), method: field(fc.constantFrom("card", "paypal", "bank_transfer")) }) },
    { name: "ship", path: () => idSegment().map((id) => `/v1/orders/${id}/ship`), body: () => objectText({ carrier: field(label), trackingNumber: field(label) }) },
    { name: "cancel", path: () => idSegment().map((id) => `/v1/orders/${id}/cancel`), body: () => objectText({ reason: field(fc.string({ maxLength: 200 })) }) },
  ];

  for (const route of routes) {
    it(`${route.name}: ${RUNS} random requests never answer 5xx, always problem+json, store nothing on failure`, async () => {
      await fc.assert(
        fc.asyncProperty(route.path(), bodyOf(route.body()), headersArb, async (path, body, headers) => send(path, body, headers)),
        { numRuns: RUNS },
      );
    }, 30_000);
  }

  it("reached successes as well as failures (the generators are not all-invalid)", () => {
    const count = (from: number, to: number) => [...statuses].filter(([status]) => status >= from && status < to).reduce((sum, [, n]) => sum + n, 0);
    expect(count(200, 300)).toBeGreaterThan(0);
    for (const status of [400, 401, 404, 415]) expect(statuses.get(status) ?? 0, String(status)).toBeGreaterThan(0);
  });

  it("survives a fixed list of nasty bodies", async () => {
    const deepArrays = "[".repeat(10_000) + "]".repeat(10_000);
    const deeperArrays = "[".repeat(32_000) + "]".repeat(32_000);
    const deepObjects = '{"a":'.repeat(10_000) + "1" + "}".repeat(10_000);
    const bodies: Array<string | Uint8Array> = [
      deepArrays, deeperArrays, deepObjects, `{"sku":${deepArrays}}`, `{"name":${deepObjects}}`,
      new Uint8Array([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]),
      new Uint8Array([0xc0, 0x80]), "\u0000", "{}\u0000", '{"a":1}{"a":2}', "[]", "null", "true", '"str"', "1e309",
      JSON.stringify({ pad: "x".repeat(70 * 1024) }),
      '{"priceCents":1e309}', '{"priceCents":-0}', '{"priceCents":9007199254740993}', '{"priceCents":NaN}', '{"priceCents":Infinity}',
      '{"priceCents":1,"priceCents":"x"}', '{"priceCents":"x","priceCents":1}', '{"__proto__":{"priceCents":1}}', '{"constructor":{"prototype":{}}}',
      '{"delta":-0}', '{"delta":1e-400}', '{"reason":"\\u0000"}', '{"name":"\\ud800"}', '{"name":"a\\u0000b"}', '{"description":"\\udfff"}',
    ];
    const paths = ["/v1/products", `/v1/products/${productId}/price`, `/v1/products/${productId}/details`, `/v1/products/${productId}/stock`, `/v1/orders/${orderId}/cancel`];
    for (const path of paths) for (const body of bodies) await send(path, body, {});
  }, 30_000);

  it("stores no NUL characters or unpaired surrogates (PostgreSQL text and UTF-8 cannot hold them)", async () => {
    for (const name of ["a\u0000b", "\ud800", "x\udc00"]) {
      const response = await h.post("/v1/products", productBody({ name }));
      expect(response.status).toBe(400);
    }
    expect((await h.post(`/v1/orders/${orderId}/ship`, { carrier: "\u0000", trackingNumber: "1" })).status).toBe(400);
    expect((await h.post(`/v1/products/${productId}/stock`, { delta: 1, reason: "\ud83d" })).status).toBe(400);
    // A whole surrogate pair is fine.
    const fresh = await h.post("/v1/products", productBody({ name: "💥 ok" }));
    expect(fresh.status).toBe(201);
    lastCount = await h.countEvents();
  });

  it("answers problem+json to bad headers and bytes fetch would not send", async () => {
    const head = (extra: string, body = "{}") =>
      `POST /v1/products/${productId}/price HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${COMMANDS_TOKEN}\r\nContent-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
    const cases = [
      head("Idempotency-Key: a\x01b\r\n"),
      head("Idempotency-Key: a\x7fb\r\n"),
      head("Idempotency-Key: \xff\xfe\r\n"),
      head(`Idempotency-Key: ${"k".repeat(201)}\r\n`),
      head("If-Match: \x00\r\n"),
      head("If-Match: \"1\"\x0b\r\n"),
      head("Content-Type: text/plain\r\n"),
      head("Transfer-Encoding: chunked\r\n"),
      head("Content-Length: -1\r\n"),
      `POST /v1/products/${productId}/price HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${COMMANDS_TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
      `POST /v1/products/%ZZ/price HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${COMMANDS_TOKEN}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      `POST /v1/products/${productId}/price?x=%00 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${COMMANDS_TOKEN}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      `POST /v1/products/\xff/price HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      `POST //v1/products HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      `POST http://evil/v1/products HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      `POST * HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    ];
    for (const request of cases) await sendRaw(Buffer.from(request, "latin1"));
  });
});
