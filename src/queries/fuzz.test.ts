/**
 * Property-based bad input for every query route: random and adversarial path params,
 * query strings (repeated, unknown, huge, injection text, invalid percent-encoding,
 * tampered cursors) and headers. Never a 5xx; every 4xx is problem+json with a contract
 * type; every 200 is JSON.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawRequest } from "../http/test_raw_http.ts";
import { Scenario } from "../projections/testing/scenario.ts";
import { databaseAvailable, databaseSkipReason } from "../testing/db.ts";
import { redisAvailable, redisSkipReason } from "../testing/redis.ts";
import { startQueryHarness, type QueryHarness } from "./test_harness.ts";

const PROBLEM_TYPES = new Set([
  "validation", "unauthorized", "forbidden", "not_found", "conflict", "precondition_failed",
  "payload_too_large", "unsupported_media_type", "unprocessable", "unavailable", "internal",
]);
const NASTY = [
  "", " ", "'; DROP TABLE products_v1; --", "\r\n*1\r\n$8\r\nFLUSHALL\r\n", "\u0000", "\ud800", "💥".repeat(50), "x".repeat(3000),
  "__proto__", "constructor", "NaN", "1e309", "-1", "0", "101", "-0", "9007199254740993", "../../etc/passwd", "%", "%FF", "%C0%AF",
  "2026-02-30", "2026-13-01", "0000-01-01", "9999-12-31", "books", "price_asc", "best_selling", "any", "eyJ4IjoxfQ", "W1sicHJvZHVjdHM6bmV3ZXN0Il1d",
];
const skip = !databaseAvailable || !redisAvailable;

/** Percent-encodes text; a lone surrogate goes out as its (invalid) UTF-8 bytes %ED%A0%80. */
function encode(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return `%ED%A0%80${encodeURIComponent(text.replace(/[\ud800-\udfff]/g, ""))}`;
  }
}

/** A query-string value: nasty, random text, or a plausible one. */
const value = fc.oneof(fc.constantFrom(...NASTY), fc.string({ maxLength: 30 }), fc.uuid().map(String), fc.integer({ min: -5, max: 200 }).map(String));
const queryString = fc
  .array(fc.tuple(fc.constantFrom("category", "status", "minPriceCents", "maxPriceCents", "sort", "limit", "cursor", "from", "to", "x", "limit"), value), { maxLength: 6 })
  .map((pairs) => pairs.map(([name, text]) => `${name}=${encode(text)}`).join("&"));
const segment = fc.oneof(fc.constantFrom(...NASTY).map(encode), fc.uuid().map(String), fc.string({ maxLength: 20 }).map(encode));

describe.skipIf(skip)(skip ? `query fuzz: skipped, ${!databaseAvailable ? databaseSkipReason : redisSkipReason}` : "query routes under random and adversarial input", () => {
  let h: QueryHarness;
  const s = new Scenario();
  const ids: string[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 4; i++) ids.push(s.createProduct(new Date(Date.UTC(2026, 10, 21, 10, i)).toISOString(), { category: "books", priceCents: 100 * (i + 1) }));
    const order = s.placeOrder("2026-11-21T11:00:00.000Z", crypto.randomUUID(), [[ids[0]!, 2]]);
    s.pay("2026-11-21T11:01:00.000Z", order);
    ids.push(order);
    h = await startQueryHarness(s.log.events);
  });
  afterAll(async () => h?.close());

  async function check(path: string, headers: Record<string, string>): Promise<void> {
    const response = await fetch(`${h.server.url}${path}`, { headers });
    const text = await response.text();
    expect(response.status, `${path} ${JSON.stringify(headers)} → ${response.status} ${text.slice(0, 200)}`).toBeLessThan(500);
    if (response.status >= 400) {
      expect(response.headers.get("content-type")).toContain("application/problem+json");
      const problem = JSON.parse(text) as { type: string; status: number };
      expect(PROBLEM_TYPES.has(problem.type), problem.type).toBe(true);
      expect(problem.status).toBe(response.status);
    } else if (response.status === 200) {
      expect(() => JSON.parse(text)).not.toThrow();
    }
  }

  it("never answers 5xx to random paths, query strings and headers", async () => {
    const route = fc.oneof(
      fc.tuple(segment, queryString).map(([id, query]) => `/v1/products/${id}?${query}`),
      fc.tuple(segment, queryString).map(([sku, query]) => `/v1/products/by-sku/${sku}?${query}`),
      queryString.map((query) => `/v1/products?${query}`),
      fc.tuple(segment, queryString).map(([category, query]) => `/v1/categories/${category}/best-sellers?${query}`),
      fc.tuple(segment, queryString).map(([id, query]) => `/v1/orders/${id}?${query}`),
      fc.tuple(segment, queryString).map(([customer, query]) => `/v1/customers/${customer}/orders?${query}`),
      queryString.map((query) => `/v1/stats/daily-sales?${query}`),
      fc.constantFrom(...ids).map((id) => `/v1/products/${id}`),
    );
    const headers = fc.record(
      {
        "x-consistent-with": fc.oneof(fc.constantFrom("1-1", "0-0", "18446744073709551615-1", "18446744073709551616-0", "-1-1", "1.5-2", "abc", ""), fc.string({ maxLength: 30 })),
        "if-none-match": fc.oneof(fc.constant("*"), fc.string({ maxLength: 40 }), fc.constant('W/"x", "y"')),
        "accept-encoding": fc.constantFrom("gzip", "br", "gzip;q=0", "*", "identity;q=0, *;q=0", "deflate", "br;q=abc"),
      },
      { requiredKeys: [] },
    );
    const printable = (record: Record<string, string>): Record<string, string> =>
      Object.fromEntries(Object.entries(record).filter(([, text]) => /^[\x20-\x7e]*$/.test(text)));
    await fc.assert(fc.asyncProperty(route, headers, async (path, header) => check(path, printable(header))), { numRuns: 600 });
  });

  it("answers 4xx, not 5xx, to malformed request targets fetch would not send", async () => {
    for (const target of ["/v1/products/%FF", "/v1/products/%", "/v1/products?limit=%E0%A4%A", "/v1/stats/daily-sales?from=%C0%AF", `/v1/products?${"a=1&".repeat(2000)}`, "/v1/orders/..%2F..%2Fetc"]) {
      const answer = await rawRequest(h.server.url, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(answer, target).not.toBeNull();
      expect(answer!.status, target).toBeGreaterThanOrEqual(400);
      expect(answer!.status, target).toBeLessThan(500);
    }
  });
});
