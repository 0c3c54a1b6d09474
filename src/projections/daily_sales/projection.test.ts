import { describe, expect, it } from "vitest";
import type { Row } from "../define.ts";
import { Scenario } from "../testing/scenario.ts";
import { foldAll, foldBatch } from "../testing/fold.ts";
import { dailySales } from "./projection.ts";

const json = (row: Row | undefined): unknown => JSON.parse((row!["view"] as Buffer).toString("utf8"));

describe("daily_sales projection", () => {
  it("adds paid lines to the payment's UTC day per category and currency; an order counts once per row", () => {
    const s = new Scenario();
    const book1 = s.createProduct("2026-11-20T08:00:00.000Z", { category: "books", priceCents: 1000 });
    const book2 = s.createProduct("2026-11-20T08:00:00.000Z", { category: "books", priceCents: 500 });
    const toy = s.createProduct("2026-11-20T08:00:00.000Z", { category: "toys", priceCents: 200 });
    const usd = s.createProduct("2026-11-20T08:00:00.000Z", { category: "books", priceCents: 700, currency: "USD" });
    const o1 = s.placeOrder("2026-11-20T23:00:00.000Z", crypto.randomUUID(), [[book1, 1], [book2, 2], [toy, 3]]);
    const o2 = s.placeOrder("2026-11-20T23:10:00.000Z", crypto.randomUUID(), [[book1, 1]]);
    const o3 = s.placeOrder("2026-11-20T23:20:00.000Z", crypto.randomUUID(), [[usd, 1]]);
    s.pay("2026-11-20T23:59:59.999Z", o1);
    s.pay("2026-11-21T00:00:00.000Z", o2); // next UTC day
    s.pay("2026-11-21T00:00:01.000Z", o3);
    const { rows } = foldAll(dailySales, s.log.events);
    expect([...rows.keys()].sort()).toEqual([
      "daily_sales|2026-11-20|books|EUR", "daily_sales|2026-11-20|toys|EUR", "daily_sales|2026-11-21|books|EUR", "daily_sales|2026-11-21|books|USD",
    ]);
    expect(json(rows.get("daily_sales|2026-11-20|books|EUR"))).toEqual({ date: "2026-11-20", category: "books", currency: "EUR", orders: 1, units: 3, revenueCents: 2000 });
    expect(json(rows.get("daily_sales|2026-11-20|toys|EUR"))).toEqual({ date: "2026-11-20", category: "toys", currency: "EUR", orders: 1, units: 3, revenueCents: 600 });
    expect(rows.get("daily_sales|2026-11-20|books|EUR")).toMatchObject({ day: "2026-11-20", category: "books", currency: "EUR", orders: 1, units: 3, revenue_cents: 2000 });
  });

  it("counts a payment stamped with a UTC offset under its UTC day", () => {
    const s = new Scenario();
    const book = s.createProduct("2026-11-20T08:00:00.000Z", { category: "books", priceCents: 1000 });
    const order = s.placeOrder("2026-11-20T20:00:00.000Z", crypto.randomUUID(), [[book, 1]]);
    s.pay("2026-11-21T01:30:00.000+02:00", order); // 2026-11-20T23:30Z
    expect([...foldAll(dailySales, s.log.events).rows.keys()]).toEqual(["daily_sales|2026-11-20|books|EUR"]);
  });

  it("takes a cancelled paid order out of the day it was paid; rows at zero disappear", () => {
    const s = new Scenario();
    const book = s.createProduct("2026-11-20T08:00:00.000Z", { category: "books", priceCents: 1000 });
    const o1 = s.placeOrder("2026-11-20T09:00:00.000Z", crypto.randomUUID(), [[book, 1]]);
    const o2 = s.placeOrder("2026-11-20T09:00:00.000Z", crypto.randomUUID(), [[book, 2]]);
    const o3 = s.placeOrder("2026-11-20T09:00:00.000Z", crypto.randomUUID(), [[book, 2]]);
    s.pay("2026-11-20T10:00:00.000Z", o1);
    s.pay("2026-11-20T11:00:00.000Z", o2);
    const rows = new Map<string, Row>();
    foldBatch(dailySales, rows, s.log.events);
    const count = s.log.events.length;
    s.cancel("2026-11-22T10:00:00.000Z", o3); // never paid: nothing
    s.cancel("2026-11-23T10:00:00.000Z", o1);
    foldBatch(dailySales, rows, s.log.events.slice(count));
    expect(json(rows.get("daily_sales|2026-11-20|books|EUR"))).toMatchObject({ orders: 1, units: 2, revenueCents: 2000 });
    expect(rows.has("daily_sales|2026-11-23|books|EUR")).toBe(false);
    s.cancel("2026-11-24T10:00:00.000Z", o2);
    const result = foldBatch(dailySales, rows, s.log.events.slice(count + 2));
    expect(rows.size).toBe(0);
    expect(result.changed.get("daily_sales|2026-11-20|books|EUR")?.row).toBeUndefined();
    // The row leaves its day sets and the item hash, and the day's cached blobs of both sets go last.
    const member = "2026-11-20\u0000books\u0000EUR";
    expect(result.views).toEqual([
      { op: "zrem", key: "daily_sales:v1:days:all", member },
      { op: "zrem", key: "daily_sales:v1:days:c:books", member },
      { op: "hdel", key: "daily_sales:v1:day_items", field: member },
      { op: "hdel", key: "daily_sales:v1:day_blobs", field: "\u00002026-11-20" },
      { op: "hdel", key: "daily_sales:v1:day_blobs", field: "books\u00002026-11-20" },
    ]);
  });

  it("is deterministic whatever the batch size", () => {
    const s = new Scenario();
    const book = s.createProduct("2026-11-20T08:00:00.000Z", { id: "11111111-1111-4111-8111-111111111111" });
    for (let i = 0; i < 5; i++) {
      const o = s.placeOrder("2026-11-20T09:00:00.000Z", "22222222-2222-4222-8222-222222222222", [[book, i + 1]], `0000000${i}-0000-4000-8000-000000000000`);
      s.pay(`2026-11-2${i}T10:00:00.000Z`, o);
      if (i % 2 === 0) s.cancel("2026-11-29T10:00:00.000Z", o);
    }
    const one = foldAll(dailySales, s.log.events);
    const two = foldAll(dailySales, s.log.events, 1);
    expect([...two.rows.entries()].sort()).toEqual([...one.rows.entries()].sort());
    expect(one.rows.size).toBe(2);
  });
});
