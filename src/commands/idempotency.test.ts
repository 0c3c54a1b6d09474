import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseAvailable, databaseSkipReason } from "../testing/db.ts";
import { clientTag } from "../http/auth.ts";
import { clientKey } from "./idempotency.ts";
import { COMMANDS_TOKEN, OTHER_COMMANDS_TOKEN, productBody, startCommandHarness, type CommandHarness } from "./test_support.ts";

describe.skipIf(!databaseAvailable)(`idempotency keys (${databaseAvailable ? "PostgreSQL" : databaseSkipReason})`, () => {
  let h: CommandHarness;
  beforeAll(async () => {
    h = await startCommandHarness();
  });
  afterAll(() => h?.close());

  const key = () => ({ "idempotency-key": `key ${crypto.randomUUID()}` });

  it("replays a create: same status, body, ETag and Location; nothing appended", async () => {
    const headers = key();
    const body = productBody();
    const first = await h.post("/v1/products", body, headers);
    expect(first.status).toBe(201);
    const firstBody = await first.json();
    const before = await h.countEvents();
    const again = await h.post("/v1/products", { ...body }, headers);
    expect(again.status).toBe(201);
    expect(await again.json()).toEqual(firstBody);
    expect(again.headers.get("etag")).toBe(first.headers.get("etag"));
    expect(again.headers.get("location")).toBe(first.headers.get("location"));
    expect(await h.countEvents()).toBe(before);
  });

  it("answers 422 for the same key with another body or route, appending nothing", async () => {
    const headers = key();
    const body = productBody();
    expect((await h.post("/v1/products", body, headers)).status).toBe(201);
    const before = await h.countEvents();
    const other = await h.post("/v1/products", { ...body, name: "Other" }, headers);
    expect(other.status).toBe(422);
    expect(((await other.json()) as { type: string }).type).toBe("unprocessable");
    const otherRoute = await h.post("/v1/orders", { customerId: crypto.randomUUID(), lines: [{ productId: crypto.randomUUID(), quantity: 1 }] }, headers);
    expect(otherRoute.status).toBe(422);
    expect(await h.countEvents()).toBe(before);
  });

  it("keeps one key space per client: another token's request with the same key runs as its own, and replays only to its own token", async () => {
    const created = (await (await h.post("/v1/products", productBody({ stock: 10 }))).json()) as { id: string };
    const path = `/v1/products/${created.id}/stock`;
    const mine = key();
    const theirs = { ...mine, authorization: `Bearer ${OTHER_COMMANDS_TOKEN}` };
    const first = await h.post(path, { delta: 2 }, mine);
    expect(first.status).toBe(200);
    expect(((await first.json()) as { version: number }).version).toBe(2);
    // The same key and body from the other client: not a replay of the first client's answer.
    const other = await h.post(path, { delta: 2 }, theirs);
    expect(other.status).toBe(200);
    expect(other.headers.get("idempotent-replayed")).toBeNull();
    expect(((await other.json()) as { version: number }).version).toBe(3);
    // Each client's repeat replays its own answer; another body under the key is each one's own 422.
    const again = await h.post(path, { delta: 2 }, mine);
    expect(((await again.json()) as { version: number }).version).toBe(2);
    const theirsAgain = await h.post(path, { delta: 2 }, theirs);
    expect(theirsAgain.headers.get("idempotent-replayed")).toBe("true");
    expect(((await theirsAgain.json()) as { version: number }).version).toBe(3);
    expect((await h.post(path, { delta: 5 }, theirs)).status).toBe(422);
    expect(await h.countEvents(`product-${created.id}`)).toBe(3);
  });

  it("replays updates, no-ops and domain errors; keys are per request, not per stream", async () => {
    const created = (await (await h.post("/v1/products", productBody({ stock: 1 }))).json()) as { id: string };
    const headers = key();
    const first = await h.post(`/v1/products/${created.id}/stock`, { delta: -1 }, headers);
    expect(first.status).toBe(200);
    const firstBody = await first.json();
    const replay = await h.post(`/v1/products/${created.id}/stock`, { delta: -1 }, headers);
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual(firstBody);
    expect(await h.countEvents(`product-${created.id}`)).toBe(2);

    const failing = key();
    const rejected = await h.post(`/v1/products/${created.id}/stock`, { delta: -1 }, failing);
    expect(rejected.status).toBe(422);
    const rejectedBody = await rejected.json();
    expect((await h.post(`/v1/products/${created.id}/stock`, { delta: 5 })).status).toBe(200);
    const rejectedAgain = await h.post(`/v1/products/${created.id}/stock`, { delta: -1 }, failing);
    expect(rejectedAgain.status).toBe(422);
    expect(await rejectedAgain.json()).toEqual(rejectedBody);

    const noop = key();
    const unchanged = await h.post(`/v1/products/${created.id}/price`, { priceCents: 1200 }, noop);
    expect(unchanged.status).toBe(200);
    const unchangedBody = await unchanged.json();
    expect((await h.post(`/v1/products/${created.id}/price`, { priceCents: 1300 })).status).toBe(200);
    const unchangedAgain = await h.post(`/v1/products/${created.id}/price`, { priceCents: 1200 }, noop);
    expect(unchangedAgain.status).toBe(200);
    expect(await unchangedAgain.json()).toEqual(unchangedBody);
    expect(unchangedAgain.headers.get("etag")).toBe(unchanged.headers.get("etag"));
  });

  it("rejects malformed keys with 400 and does not record 400s", async () => {
    const tooLong = await h.post("/v1/products", productBody(), { "idempotency-key": "k".repeat(201) });
    expect(tooLong.status).toBe(400);
    const headers = key();
    expect((await h.post("/v1/products", { sku: "" }, headers)).status).toBe(400);
    expect((await h.post("/v1/products", productBody(), headers)).status).toBe(201);
  });

  it("a keyed create retried after an attempt that reserved the sku and was cut off creates the product under that attempt's id", async () => {
    // As a store outage leaves it: the earlier attempt with this key reserved the sku (just
    // now, so it is no orphan yet) and never created the product nor released the sku.
    const headers = key();
    const body = productBody();
    const sku = body["sku"] as string;
    const earlierId = crypto.randomUUID();
    await h.store.append(`sku-${sku}`, [
      { type: "SkuReserved", data: { sku, productId: earlierId }, metadata: { occurredAt: new Date().toISOString(), correlationId: "cut-off", causationId: null, idempotencyKey: clientKey(clientTag(COMMANDS_TOKEN), headers["idempotency-key"]) } },
    ], { expectedVersion: "no_stream" });
    const retried = await h.post("/v1/products", body, headers);
    expect(retried.status).toBe(201);
    const answer = (await retried.json()) as { id: string; version: number };
    expect(answer).toMatchObject({ id: earlierId, version: 1 });
    expect(retried.headers.get("location")).toBe(`/v1/products/${earlierId}`);
    expect((await h.store.readStream(`product-${earlierId}`)).events.map((event) => event.type)).toEqual(["ProductCreated"]);
    expect((await h.store.readStream(`sku-${sku}`)).events.map((event) => event.type)).toEqual(["SkuReserved"]);
    const again = await h.post("/v1/products", body, headers);
    expect(again.status).toBe(201);
    expect(await again.json()).toEqual(answer);
    expect(again.headers.get("location")).toBe(`/v1/products/${earlierId}`);
    // Without the key, the sku is taken by that product.
    expect((await h.post("/v1/products", productBody({ sku }))).status).toBe(409);
  });

  it("replays a recorded error with the same bytes", async () => {
    const body = productBody();
    expect((await h.post("/v1/products", body)).status).toBe(201);
    const headers = key();
    const taken = { ...body, id: crypto.randomUUID() };
    const first = await h.post("/v1/products", taken, headers);
    expect(first.status).toBe(409);
    const firstText = await first.text();
    const replay = await h.post("/v1/products", taken, headers);
    expect(replay.status).toBe(409);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await replay.text()).toBe(firstText);
  });

  it("answers concurrent repeats of one keyed create with one 201 and one product", async () => {
    const headers = key();
    const body = productBody();
    const responses = await Promise.all(Array.from({ length: 5 }, () => h.post("/v1/products", body, headers)));
    const bodies = await Promise.all(responses.map((response) => response.json()));
    expect(responses.map((response) => response.status)).toEqual([201, 201, 201, 201, 201]);
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
    const sku = (await h.store.readStream(`sku-${body["sku"] as string}`)).events.map((event) => event.type);
    expect(sku).toEqual(["SkuReserved"]);
  });
});
