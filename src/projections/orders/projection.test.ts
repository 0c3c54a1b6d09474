import { describe, expect, it } from "vitest";
import { unframeView } from "../../shared/read_models.ts";
import type { Row } from "../define.ts";
import { Scenario } from "../testing/scenario.ts";
import { applyViews, foldAll, foldBatch } from "../testing/fold.ts";
import { orders } from "./projection.ts";

const T = (n: number): string => new Date(Date.UTC(2026, 10, 21, 10, 0, n)).toISOString();
const json = (value: unknown): unknown => JSON.parse((value as Buffer).toString("utf8"));

describe("orders projection", () => {
  it("folds placed → paid → shipped into the order answer and the customer-list item", () => {
    const s = new Scenario();
    const p = s.createProduct(T(0), { sku: "P-1", name: "Pen", priceCents: 250 });
    const q = s.createProduct(T(0), { sku: "Q-1", name: "Quill", priceCents: 1000 });
    const customer = crypto.randomUUID();
    const id = s.placeOrder(T(1), customer, [[q, 1], [p, 3]]);
    s.pay(T(2), id, "paypal");
    s.ship(T(3), id);
    const { rows } = foldAll(orders, s.log.events);
    const row = rows.get(`orders|${id}`)!;
    const paymentId = (s.log.events.find((e) => e.type === "OrderPaid")!.data["paymentId"]) as string;
    expect(json(row["view"])).toEqual({
      id, customerId: customer, status: "shipped", currency: "EUR",
      lines: [
        { productId: q, sku: "Q-1", name: "Quill", quantity: 1, unitPriceCents: 1000, lineTotalCents: 1000 },
        { productId: p, sku: "P-1", name: "Pen", quantity: 3, unitPriceCents: 250, lineTotalCents: 750 },
      ],
      totalCents: 1750, itemCount: 4,
      payment: { paymentId, amountCents: 1750, method: "paypal", paidAt: T(2) },
      shipment: { carrier: "DHL", trackingNumber: "TN-1", shippedAt: T(3) },
      cancellation: null, placedAt: T(1), updatedAt: T(3), version: 3,
    });
    expect(Object.keys(json(row["view"]) as object)).toEqual(["id", "customerId", "status", "currency", "lines", "totalCents", "itemCount", "payment", "shipment", "cancellation", "placedAt", "updatedAt", "version"]);
    expect((row["summary"] as Buffer).toString()).toBe(JSON.stringify({ id, status: "shipped", totalCents: 1750, currency: "EUR", itemCount: 4, placedAt: T(1), updatedAt: T(3) }));
    expect(row).toMatchObject({ customer_id: customer, status: "shipped", total_cents: 1750, item_count: 4, placed_at: T(1), version: 3 });
  });

  it("records a cancellation (reason \"\" when none) and keeps the payment", () => {
    const s = new Scenario();
    const p = s.createProduct(T(0));
    const a = s.placeOrder(T(1), crypto.randomUUID(), [[p, 1]]);
    const b = s.placeOrder(T(1), crypto.randomUUID(), [[p, 1]]);
    s.pay(T(2), b);
    s.cancel(T(3), a);
    s.cancel(T(4), b, "changed my mind");
    const { rows } = foldAll(orders, s.log.events);
    expect(json(rows.get(`orders|${a}`)!["view"])).toMatchObject({ status: "cancelled", payment: null, cancellation: { reason: "", cancelledAt: T(3) } });
    expect(json(rows.get(`orders|${b}`)!["view"])).toMatchObject({ status: "cancelled", payment: { amountCents: 1000 }, cancellation: { reason: "changed my mind", cancelledAt: T(4) } });
  });

  it("reads rows as loaded from PostgreSQL (view bytes, bigint as text)", () => {
    const s = new Scenario();
    const p = s.createProduct(T(0));
    const id = s.placeOrder(T(1), crypto.randomUUID(), [[p, 2]]);
    const rows = new Map<string, Row>();
    foldBatch(orders, rows, s.log.events);
    const row = rows.get(`orders|${id}`)!;
    // A fresh object, as a row loaded from PostgreSQL would be: its state comes from its view bytes.
    rows.set(`orders|${id}`, { ...row, view: Buffer.from(row["view"] as Buffer), total_cents: "2000" });
    s.pay(T(2), id);
    foldBatch(orders, rows, s.log.events.slice(2));
    expect(json(rows.get(`orders|${id}`)!["view"])).toMatchObject({ status: "paid", totalCents: 2000, lines: [{ quantity: 2 }] });
  });

  it("sets the framed view (and gzip for big orders) in Redis", () => {
    const s = new Scenario();
    const lines: [string, number][] = [];
    for (let i = 0; i < 20; i++) lines.push([s.createProduct(T(0), { name: `Product number ${i} with a long name` }), 1]);
    const id = s.placeOrder(T(1), crypto.randomUUID(), lines);
    const { rows, views } = foldAll(orders, s.log.events);
    const state = applyViews(views);
    const framed = unframeView(state.get(`orders:v${orders.version}:id:${id}`) as Buffer)!;
    expect(framed.body.equals(rows.get(`orders|${id}`)!["view"] as Buffer)).toBe(true);
    expect(unframeView(state.get(`orders:v${orders.version}:id_gz:${id}`) as Buffer)!.etag).toBe(framed.etag);
  });

  it("is deterministic and ignores redelivered events", () => {
    const build = (): Scenario => {
      const s = new Scenario();
      const p = s.createProduct(T(0), { id: "11111111-1111-4111-8111-111111111111" });
      const o = s.placeOrder(T(1), "22222222-2222-4222-8222-222222222222", [[p, 1]], "33333333-3333-4333-8333-333333333333");
      s.pay(T(2), o);
      return s;
    };
    const one = foldAll(orders, build().log.events.map((e) => (e.type === "OrderPaid" ? { ...e, data: { ...e.data, paymentId: "p" } } : e)));
    const two = foldAll(orders, build().log.events.map((e) => (e.type === "OrderPaid" ? { ...e, data: { ...e.data, paymentId: "p" } } : e)), 1);
    expect([...two.rows.entries()]).toEqual([...one.rows.entries()]);
    const rows = new Map(one.rows);
    foldBatch(orders, rows, build().log.events.slice(1, 2));
    expect([...rows.entries()]).toEqual([...one.rows.entries()]);
  });
});
