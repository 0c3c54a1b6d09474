import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_ATTEMPTS } from "../handle.ts";
import { databaseAvailable, databaseSkipReason } from "../../testing/db.ts";
import { openRaw, parseAnswer, rawRequest } from "../../http/test_raw_http.ts";
import { COMMANDS_TOKEN, OPERATOR_TOKEN, productBody, startCommandHarness, type CommandHarness } from "../test_support.ts";

describe.skipIf(!databaseAvailable)(`product command routes (${databaseAvailable ? "PostgreSQL" : databaseSkipReason})`, () => {
  let h: CommandHarness;
  beforeAll(async () => {
    h = await startCommandHarness();
  });
  afterAll(() => h?.close());

  async function create(overrides: Record<string, unknown> = {}) {
    const response = await h.post("/v1/products", productBody(overrides));
    expect(response.status).toBe(201);
    return (await response.json()) as { id: string; version: number; position: string };
  }

  it("creates a product: 201, Location, ETag, { id, version, position }, defaults applied", async () => {
    const id = crypto.randomUUID();
    const response = await h.post("/v1/products", productBody({ id, name: "  Mug  " }));
    expect(response.status).toBe(201);
    expect(response.headers.get("location")).toBe(`/v1/products/${id}`);
    expect(response.headers.get("etag")).toBe('"1"');
    const body = await response.json();
    expect(body).toEqual({ id, version: 1, position: expect.stringMatching(/^\d+-\d+$/) });
    const read = await h.store.readStream(`product-${id}`);
    expect(read.events[0]).toMatchObject({ type: "ProductCreated", data: { productId: id, name: "Mug", description: "", currency: "EUR", stock: 0 } });
    expect(read.events[0]!.metadata).toMatchObject({ correlationId: expect.any(String), causationId: null });
    expect(read.events[0]!.metadata.occurredAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("answers 400 with every issue and its dotted path, appending nothing", async () => {
    const before = await h.countEvents();
    const response = await h.post("/v1/products", { sku: "-bad", name: " ", category: "Bad", priceCents: 1.5, currency: "eur", stock: -1, extra: 1 });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { type: string; errors: { path: string }[] };
    expect(body.type).toBe("validation");
    expect(body.errors.map((issue) => issue.path).sort()).toEqual(["category", "currency", "extra", "name", "priceCents", "sku", "stock"]);
    const empty = await h.post("/v1/products");
    expect(empty.status).toBe(400);
    const badId = await h.post("/v1/products/not-a-uuid/price", { priceCents: 1 });
    expect(badId.status).toBe(400);
    expect(((await badId.json()) as { errors: { path: string }[] }).errors[0]!.path).toBe("params.id");
    const noDetails = await h.post(`/v1/products/${crypto.randomUUID()}/details`, {});
    expect(noDetails.status).toBe(400);
    const zeroDelta = await h.post(`/v1/products/${crypto.randomUUID()}/stock`, { delta: 0 });
    expect(zeroDelta.status).toBe(400);
    // Params, query, body and headers are all checked: one 400 lists the issues of each.
    const everywhere = await h.post("/v1/products/NOT-A-UUID/price?dryRun=true", { priceCents: -1, bogus: 1 }, { "if-match": "abc", "idempotency-key": "é" });
    expect(everywhere.status).toBe(400);
    expect(((await everywhere.json()) as { errors: { path: string }[] }).errors.map((issue) => issue.path)).toEqual([
      "params.id", "query.dryRun", "priceCents", "bogus", "headers.If-Match", "headers.Idempotency-Key",
    ]);
    // A command takes no query parameters: a create with one creates nothing.
    const queried = await h.post("/v1/products?dryRun=true", productBody());
    expect(queried.status).toBe(400);
    expect(((await queried.json()) as { errors: { path: string }[] }).errors).toEqual([{ path: "query.dryRun", message: "Unknown field" }]);
    // A key given twice (JSON.parse would keep the last): 400 naming it, nothing appended.
    const twice = await h.post("/v1/products", `{"sku":"TWICE-1","name":"Mug","category":"kitchen","priceCents":5,"priceCents":6}`);
    expect(twice.status).toBe(400);
    expect(((await twice.json()) as { errors: unknown[] }).errors).toEqual([{ path: "priceCents", message: "is given more than once" }]);
    expect(await h.countEvents()).toBe(before);
  });

  it("answers 401, 403, 413 and 415 and appends nothing", async () => {
    const before = await h.countEvents();
    expect((await h.post("/v1/products", productBody(), { authorization: "" })).status).toBe(401);
    expect((await h.post("/v1/products", productBody(), { authorization: `Bearer ${OPERATOR_TOKEN}` })).status).toBe(403);
    expect((await h.post("/v1/products", JSON.stringify(productBody()), { "content-type": "text/plain" })).status).toBe(415);
    expect((await h.post("/v1/products", productBody({ description: "x".repeat(70_000) }))).status).toBe(413);
    expect(await h.countEvents()).toBe(before);
  });

  it("answers 404 for an unknown product", async () => {
    const response = await h.post(`/v1/products/${crypto.randomUUID()}/price`, { priceCents: 5 });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { type: string }).type).toBe("not_found");
  });

  it("answers 409 for a taken sku or an existing id, leaving the sku with its first product", async () => {
    const first = await create({ sku: "TAKEN-1" });
    const before = await h.countEvents();
    const taken = await h.post("/v1/products", productBody({ sku: "TAKEN-1" }));
    expect(taken.status).toBe(409);
    expect(((await taken.json()) as { type: string }).type).toBe("conflict");
    const sameId = await h.post("/v1/products", productBody({ id: first.id }));
    expect(sameId.status).toBe(409);
    expect(await h.countEvents()).toBe(before);
  });

  it("changes price (no-op answers 200 with the current version), details and stock; 422 below zero", async () => {
    const { id, position } = await create({ stock: 2 });
    const same = await h.post(`/v1/products/${id}/price`, { priceCents: 1200 });
    expect(same.status).toBe(200);
    expect(await same.json()).toEqual({ id, version: 1, position });
    const price = await h.post(`/v1/products/${id}/price`, { priceCents: 1500 });
    expect(price.status).toBe(200);
    expect(price.headers.get("etag")).toBe('"2"');
    expect(((await price.json()) as { version: number }).version).toBe(2);
    expect((await h.post(`/v1/products/${id}/details`, { name: "Cup" })).status).toBe(200);
    expect((await h.post(`/v1/products/${id}/details`, { name: "Cup" })).status).toBe(200);
    expect((await h.post(`/v1/products/${id}/stock`, { delta: -2, reason: "sold" })).status).toBe(200);
    const before = await h.countEvents(`product-${id}`);
    const below = await h.post(`/v1/products/${id}/stock`, { delta: -1 });
    expect(below.status).toBe(422);
    expect(((await below.json()) as { type: string }).type).toBe("unprocessable");
    expect(await h.countEvents(`product-${id}`)).toBe(before);
    expect(before).toBe(4);
  });

  it("discontinues once; then price/details/stock/discontinue answer 409", async () => {
    const { id } = await create();
    expect((await h.post(`/v1/products/${id}/discontinue`)).status).toBe(200);
    const before = await h.countEvents();
    expect((await h.post(`/v1/products/${id}/discontinue`)).status).toBe(409);
    expect((await h.post(`/v1/products/${id}/price`, { priceCents: 1 })).status).toBe(409);
    expect((await h.post(`/v1/products/${id}/details`, { category: "x" })).status).toBe(409);
    expect((await h.post(`/v1/products/${id}/stock`, { delta: 1 })).status).toBe(409);
    expect(await h.countEvents()).toBe(before);
  });

  it("checks If-Match: 412 when it differs (strong comparison: weak tags and tags that are not versions never match), 400 when malformed, accepts quoted, unquoted, lists and *", async () => {
    const { id } = await create();
    const before = await h.countEvents();
    const stale = await h.post(`/v1/products/${id}/price`, { priceCents: 7 }, { "if-match": '"5"' });
    expect(stale.status).toBe(412);
    expect(((await stale.json()) as { type: string }).type).toBe("precondition_failed");
    expect((await h.post(`/v1/products/${id}/price`, { priceCents: 7 }, { "if-match": "abc" })).status).toBe(400);
    expect(await h.countEvents()).toBe(before);
    expect((await h.post(`/v1/products/${id}/price`, { priceCents: 7 }, { "if-match": '"1"' })).status).toBe(200);
    expect((await h.post(`/v1/products/${id}/price`, { priceCents: 8 }, { "if-match": "2" })).status).toBe(200);
    for (const weak of ['W/"3"', "W/3", '"03"', 'W/"3", W/"2"', '""', '"abc"', '"a,2", "x"']) {
      const refused = await h.post(`/v1/products/${id}/price`, { priceCents: 9 }, { "if-match": weak });
      expect(refused.status, weak).toBe(412);
    }
    expect((await h.post(`/v1/products/${id}/price`, { priceCents: 9 }, { "if-match": '"1", , "3",' })).status).toBe(200);
    expect((await h.post(`/v1/products/${id}/price`, { priceCents: 10 }, { "if-match": "*" })).status).toBe(200);
    for (const malformed of ['"5", abc', '"3', '"3""3"', '"a b"']) {
      expect((await h.post(`/v1/products/${id}/price`, { priceCents: 11 }, { "if-match": malformed })).status, malformed).toBe(400);
    }
    expect(await h.countEvents()).toBe(before + 4);
  });

  it("refuses an Idempotency-Key or Content-Type sent twice (400, nothing appended): node would join the keys into one, or keep the first type", async () => {
    const { id } = await create();
    const before = await h.countEvents();
    const body = JSON.stringify({ priceCents: 77 });
    const send = (extra: string) =>
      rawRequest(h.url, `POST /v1/products/${id}/price HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${COMMANDS_TOKEN}\r\nContent-Type: application/json\r\n${extra}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    for (const [extra, path] of [
      ["Idempotency-Key: a1\r\nIdempotency-Key: a2\r\n", "headers.Idempotency-Key"],
      ["Content-Type: text/plain\r\n", "headers.Content-Type"],
    ] as const) {
      const answer = await send(extra);
      expect(answer?.status, extra).toBe(400);
      expect(answer?.headers["content-type"]).toMatch(/^application\/problem\+json/);
      expect(JSON.stringify(JSON.parse(answer!.body).errors)).toContain(path);
    }
    expect(await h.countEvents()).toBe(before);
    // Sent once, the key works (written without a half-close, which node answers by closing: the command takes a round trip to the store).
    const connection = await openRaw(h.url);
    connection.socket.write(`POST /v1/products/${id}/price HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${COMMANDS_TOKEN}\r\nContent-Type: application/json\r\nIdempotency-Key: a1\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    expect(parseAnswer(await connection.closed)?.status).toBe(200);
  });

  it("lets exactly one of 20 parallel creates with the same sku win", async () => {
    const sku = `RACE-${crypto.randomUUID().slice(0, 8)}`;
    const responses = await Promise.all(Array.from({ length: 20 }, () => h.post("/v1/products", productBody({ sku }))));
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    expect(statuses.filter((status) => status === 409)).toHaveLength(19);
    const winner = (await responses.find((response) => response.status === 201)!.json()) as { id: string };
    expect((await h.store.readStream(`product-${winner.id}`)).version).toBe(1);
    const sku_stream = await h.store.readStream(`sku-${sku}`);
    expect(sku_stream.events.map((event) => event.type)).toEqual(["SkuReserved"]);
  });

  it("retries concurrent writes to one product (as many as MAX_ATTEMPTS at once all succeed); with a shared If-Match exactly one wins and the rest get 412", async () => {
    const { id } = await create({ stock: 0 });
    const adds = await Promise.all(Array.from({ length: MAX_ATTEMPTS }, () => h.post(`/v1/products/${id}/stock`, { delta: 1 })));
    expect(adds.map((response) => response.status)).toEqual(adds.map(() => 200));
    expect(await h.countEvents(`product-${id}`)).toBe(1 + MAX_ATTEMPTS);
    const version = 1 + MAX_ATTEMPTS;
    const guarded = await Promise.all(
      Array.from({ length: 6 }, (_, i) => h.post(`/v1/products/${id}/price`, { priceCents: 2000 + i }, { "if-match": `"${version}"` })),
    );
    const statuses = guarded.map((response) => response.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 412)).toHaveLength(5);
    expect(await h.countEvents(`product-${id}`)).toBe(version + 1);
  });

  it("reclaims an orphaned sku reservation whose product was never created", async () => {
    const sku = `ORPHAN-${crypto.randomUUID().slice(0, 8)}`;
    const orphanProduct = crypto.randomUUID();
    await h.store.append(`sku-${sku}`, [
      { type: "SkuReserved", data: { sku, productId: orphanProduct }, metadata: { occurredAt: "2020-01-01T00:00:00.000Z", correlationId: "x", causationId: null } },
    ], { expectedVersion: "no_stream" });
    const response = await h.post("/v1/products", productBody({ sku }));
    expect(response.status).toBe(201);
    const events = (await h.store.readStream(`sku-${sku}`)).events.map((event) => event.type);
    expect(events).toEqual(["SkuReserved", "SkuReleased", "SkuReserved"]);
  });
});
