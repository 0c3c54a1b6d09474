import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseAvailable, databaseSkipReason } from "../../testing/db.ts";
import { productBody, startCommandHarness, type CommandHarness } from "../test_support.ts";

describe.skipIf(!databaseAvailable)(`order command routes (${databaseAvailable ? "PostgreSQL" : databaseSkipReason})`, () => {
  let h: CommandHarness;
  let mug: string;
  let pen: string;
  let dollar: string;
  let gone: string;
  const customerId = crypto.randomUUID();

  async function product(overrides: Record<string, unknown>): Promise<string> {
    const response = await h.post("/v1/products", productBody(overrides));
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: string }).id;
  }

  beforeAll(async () => {
    h = await startCommandHarness();
    mug = await product({ name: "Mug", priceCents: 1200, category: "kitchen" });
    pen = await product({ name: "Pen", priceCents: 250, category: "office" });
    dollar = await product({ name: "Cap", priceCents: 900, currency: "USD" });
    gone = await product({ name: "Old" });
    expect((await h.post(`/v1/products/${gone}/discontinue`)).status).toBe(200);
  });
  afterAll(() => h?.close());

  async function place(): Promise<string> {
    const response = await h.post("/v1/orders", { customerId, lines: [{ productId: mug, quantity: 2 }, { productId: pen, quantity: 4 }] });
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: string }).id;
  }

  it("places an order capturing product data: 201 with Location", async () => {
    const id = crypto.randomUUID();
    const response = await h.post("/v1/orders", { id, customerId, lines: [{ productId: mug, quantity: 2 }, { productId: pen, quantity: 4 }] });
    expect(response.status).toBe(201);
    expect(response.headers.get("location")).toBe(`/v1/orders/${id}`);
    const [event] = (await h.store.readStream(`order-${id}`)).events;
    expect(event).toMatchObject({ type: "OrderPlaced", data: { orderId: id, customerId, currency: "EUR", totalCents: 3400, itemCount: 6 } });
    expect((event!.data as { lines: unknown[] }).lines[0]).toMatchObject({ productId: mug, name: "Mug", category: "kitchen", unitPriceCents: 1200, lineTotalCents: 2400 });
  });

  it("answers 400 with dotted paths (lines.2.quantity, duplicate lines.1.productId) and appends nothing", async () => {
    const before = await h.countEvents();
    const response = await h.post("/v1/orders", {
      customerId: "nope",
      lines: [{ productId: mug, quantity: 1 }, { productId: mug, quantity: 1 }, { productId: pen, quantity: 0 }],
    });
    expect(response.status).toBe(400);
    const paths = ((await response.json()) as { errors: { path: string }[] }).errors.map((issue) => issue.path).sort();
    expect(paths).toEqual(["customerId", "lines.1.productId", "lines.2.quantity"]);
    const duplicate = await h.post("/v1/orders", { customerId, lines: [{ productId: mug, quantity: 1 }, { productId: mug, quantity: 1 }] });
    expect(duplicate.status).toBe(400);
    expect(((await duplicate.json()) as { errors: { path: string }[] }).errors.map((issue) => issue.path)).toEqual(["lines.1.productId"]);
    expect((await h.post("/v1/orders", { customerId, lines: [] })).status).toBe(400);
    const tooMany = Array.from({ length: 101 }, () => ({ productId: crypto.randomUUID(), quantity: 1 }));
    expect((await h.post("/v1/orders", { customerId, lines: tooMany })).status).toBe(400);
    expect((await h.post(`/v1/orders/${crypto.randomUUID()}/pay`, { paymentId: crypto.randomUUID(), amountCents: 1, method: "cash" })).status).toBe(400);
    expect(await h.countEvents()).toBe(before);
  });

  it("answers 422 for unknown or discontinued products and mixed currencies, appending nothing", async () => {
    const before = await h.countEvents();
    for (const productId of [crypto.randomUUID(), gone, dollar]) {
      const response = await h.post("/v1/orders", { customerId, lines: [{ productId: mug, quantity: 1 }, { productId, quantity: 1 }] });
      expect(response.status).toBe(422);
      expect(((await response.json()) as { type: string }).type).toBe("unprocessable");
    }
    expect(await h.countEvents()).toBe(before);
  });

  it("answers 409 when the order id exists", async () => {
    const id = await place();
    const response = await h.post("/v1/orders", { id, customerId, lines: [{ productId: mug, quantity: 1 }] });
    expect(response.status).toBe(409);
    expect(await h.countEvents(`order-${id}`)).toBe(1);
  });

  it("pays (422 on a wrong amount), ships, and refuses what the status does not allow with 409", async () => {
    const id = await place();
    const payment = { paymentId: crypto.randomUUID(), amountCents: 3400, method: "card" };
    expect((await h.post(`/v1/orders/${id}/ship`, { carrier: "DHL", trackingNumber: "T1" })).status).toBe(409);
    expect((await h.post(`/v1/orders/${id}/pay`, { ...payment, amountCents: 3399 })).status).toBe(422);
    const paid = await h.post(`/v1/orders/${id}/pay`, payment);
    expect(paid.status).toBe(200);
    expect(((await paid.json()) as { version: number }).version).toBe(2);
    expect((await h.post(`/v1/orders/${id}/pay`, payment)).status).toBe(409);
    expect((await h.post(`/v1/orders/${id}/ship`, { carrier: " DHL ", trackingNumber: "T1" })).status).toBe(200);
    expect((await h.post(`/v1/orders/${id}/cancel`)).status).toBe(409);
    const events = (await h.store.readStream(`order-${id}`)).events;
    expect(events.map((event) => event.type)).toEqual(["OrderPlaced", "OrderPaid", "OrderShipped"]);
    expect(events[2]!.data).toMatchObject({ carrier: "DHL" });
  });

  it("cancels a paid order with paidAt from the OrderPaid event; cancelling twice is 409", async () => {
    const id = await place();
    expect((await h.post(`/v1/orders/${id}/pay`, { paymentId: crypto.randomUUID(), amountCents: 3400, method: "paypal" })).status).toBe(200);
    expect((await h.post(`/v1/orders/${id}/cancel`, { reason: "late" })).status).toBe(200);
    expect((await h.post(`/v1/orders/${id}/cancel`)).status).toBe(409);
    const events = (await h.store.readStream(`order-${id}`)).events;
    expect(events[2]!.data).toMatchObject({ previousStatus: "paid", paidAt: events[1]!.metadata.occurredAt, reason: "late" });
  });

  it("answers 404 for an unknown order", async () => {
    const response = await h.post(`/v1/orders/${crypto.randomUUID()}/cancel`);
    expect(response.status).toBe(404);
  });
});
