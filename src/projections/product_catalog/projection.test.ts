import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { Row, ViewOp } from "../define.ts";
import { productCatalog } from "./projection.ts";
import { Scenario } from "../testing/scenario.ts";
import { applyViews, foldAll, foldBatch } from "../testing/fold.ts";

const T = (n: number): string => new Date(Date.UTC(2026, 10, 21, 10, 0, n)).toISOString();

function view(rows: Map<string, Row>, id: string): Record<string, unknown> {
  const row = rows.get(`products|${id}`);
  if (row === undefined) throw new Error(`no row ${id}`);
  return JSON.parse((row["view"] as Buffer).toString("utf8")) as Record<string, unknown>;
}

describe("product_catalog projection", () => {
  it("folds the five product events into the product answer", () => {
    const s = new Scenario();
    const id = s.createProduct(T(1), { sku: "BOOK-1", name: "Dune", category: "books", priceCents: 1500, stock: 3 });
    s.changePrice(T(2), id, 1700);
    s.changeDetails(T(3), id, { description: "Sand." });
    s.adjustStock(T(4), id, 2, 5);
    s.discontinue(T(5), id);
    const { rows } = foldAll(productCatalog, s.log.events);
    expect(view(rows, id)).toEqual({
      id, sku: "BOOK-1", name: "Dune", description: "Sand.", category: "books", priceCents: 1700, currency: "EUR",
      stock: 5, status: "discontinued", unitsSold: 0, revenueCents: 0, createdAt: T(1), updatedAt: T(5), version: 5,
    });
    const row = rows.get(`products|${id}`)!;
    expect(Object.keys(view(rows, id))).toEqual(["id", "sku", "name", "description", "category", "priceCents", "currency", "stock", "status", "unitsSold", "revenueCents", "createdAt", "updatedAt", "version"]);
    expect(row["etag"]).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(row["view_gz"]).toBeNull();
    expect(row["price_cents"]).toBe(1700);
  });

  it("counts paid lines in and cancelled-after-payment lines out; the etag follows sales", () => {
    const s = new Scenario();
    const a = s.createProduct(T(1), { priceCents: 300 });
    const b = s.createProduct(T(2), { priceCents: 1000 });
    const o1 = s.placeOrder(T(3), crypto.randomUUID(), [[a, 2], [b, 1]]);
    const o2 = s.placeOrder(T(4), crypto.randomUUID(), [[a, 5]]);
    const o3 = s.placeOrder(T(5), crypto.randomUUID(), [[a, 7]]);
    const rows = new Map<string, Row>();
    foldBatch(productCatalog, rows, s.log.events);
    const etagBefore = rows.get(`products|${a}`)!["etag"];
    s.pay(T(6), o1);
    s.pay(T(7), o2);
    s.cancel(T(8), o3); // never paid: no sales change
    foldBatch(productCatalog, rows, s.log.events.slice(5));
    expect(view(rows, a)).toMatchObject({ unitsSold: 7, revenueCents: 2100, version: 1, updatedAt: T(1) });
    expect(view(rows, b)).toMatchObject({ unitsSold: 1, revenueCents: 1000 });
    expect(rows.get(`products|${a}`)!["etag"]).not.toBe(etagBefore);
    s.cancel(T(9), o1);
    foldBatch(productCatalog, rows, s.log.events.slice(8));
    expect(view(rows, a)).toMatchObject({ unitsSold: 5, revenueCents: 1500 });
    expect(view(rows, b)).toMatchObject({ unitsSold: 0, revenueCents: 0 });
  });

  it("keeps best-seller views absolute: scores from the row, members removed at zero, moved on a category change", () => {
    const s = new Scenario();
    const a = s.createProduct(T(1), { category: "books", name: "A" });
    const o = s.placeOrder(T(2), crypto.randomUUID(), [[a, 4]]);
    const rows = new Map<string, Row>();
    foldBatch(productCatalog, rows, s.log.events);
    s.pay(T(3), o);
    let ops = foldBatch(productCatalog, rows, s.log.events.slice(2)).views;
    expect(ops).toContainEqual({ op: "zadd", key: "product_catalog:v1:best:books", score: -4, member: a });
    const item = ops.find((op): op is Extract<ViewOp, { op: "hset" }> => op.op === "hset")!;
    expect(JSON.parse(item.value.toString())).toEqual({ productId: a, sku: s.products.get(a)!.sku, name: "A", unitsSold: 4, revenueCents: 4000 });
    s.changeDetails(T(4), a, { category: "comics" });
    ops = foldBatch(productCatalog, rows, s.log.events.slice(3)).views;
    expect(ops).toContainEqual({ op: "zrem", key: "product_catalog:v1:best:books", member: a });
    expect(ops).toContainEqual({ op: "hdel", key: "product_catalog:v1:best_items:books", field: a });
    expect(ops).toContainEqual({ op: "zadd", key: "product_catalog:v1:best:comics", score: -4, member: a });
    s.cancel(T(5), o);
    ops = foldBatch(productCatalog, rows, s.log.events.slice(4)).views;
    expect(ops).toContainEqual({ op: "zrem", key: "product_catalog:v1:best:comics", member: a });
    expect(ops.some((op) => op.op === "zadd" && op.key.includes(":best:"))).toBe(false);
    const row = rows.get(`products|${a}`)!;
    expect(ops).toContainEqual({ op: "set", key: `product_catalog:v1:id:${a}`, value: row["view"] as Buffer, etag: row["etag"] as string });
    expect(ops).toContainEqual({ op: "set", key: `product_catalog:v1:sku:${s.products.get(a)!.sku}`, value: row["view"] as Buffer, etag: row["etag"] as string });
  });

  it("keeps each product in its list sets: a member per sort in its category's and the all-categories set, moved when a sort key changes", () => {
    const s = new Scenario();
    const a = s.createProduct(T(1), { category: "books", priceCents: 500 });
    const rows = new Map<string, Row>();
    let ops = foldBatch(productCatalog, rows, s.log.events).views;
    const zadds = ops.filter((op): op is Extract<ViewOp, { op: "zadd" }> => op.op === "zadd" && op.key.includes(":plist:"));
    expect(zadds.map((op) => op.key).sort()).toEqual(
      ["newest", "price_asc", "price_desc", "best_selling"].flatMap((sort) => [`product_catalog:v1:plist:active:${sort}:all`, `product_catalog:v1:plist:active:${sort}:c:books`]).sort(),
    );
    expect(zadds.every((op) => op.score === 0 && op.member.endsWith(`|${a}`))).toBe(true);
    s.changePrice(T(2), a, 700);
    ops = foldBatch(productCatalog, rows, s.log.events.slice(1)).views;
    const moved = ops.filter((op) => (op.op === "zadd" || op.op === "zrem") && op.key.includes(":plist:"));
    // Only the price sorts move (both sets each: out, then in); newest and best_selling stay.
    expect(moved.map((op) => `${op.op} ${op.key.split(":").slice(4, 6).join(":")}`).sort()).toEqual(
      ["zrem price_asc:all", "zrem price_asc:c", "zrem price_desc:all", "zrem price_desc:c", "zadd price_asc:all", "zadd price_asc:c", "zadd price_desc:all", "zadd price_desc:c"].sort(),
    );
    s.discontinue(T(3), a);
    ops = foldBatch(productCatalog, rows, s.log.events.slice(2)).views;
    const keys = ops.filter((op) => op.op === "zadd" && op.key.includes(":plist:")).map((op) => (op as Extract<ViewOp, { op: "zadd" }>).key);
    expect(keys.length).toBe(8);
    expect(keys.every((key) => key.includes(":plist:discontinued:"))).toBe(true);
    expect(ops.filter((op) => op.op === "zrem" && op.key.includes(":plist:active:")).length).toBe(8);
  });

  it("prepares a gzip for views over 1 KiB, with matching framed gzip views", () => {
    const s = new Scenario();
    const id = s.createProduct(T(1), { description: "x".repeat(2000) });
    const { rows, views } = foldAll(productCatalog, s.log.events);
    const row = rows.get(`products|${id}`)!;
    expect(gunzipSync(row["view_gz"] as Buffer).equals(row["view"] as Buffer)).toBe(true);
    const gzOp = views.find((op) => op.op === "set" && op.key === `product_catalog:v1:id_gz:${id}`);
    expect(gzOp?.op === "set" && gzOp.etag).toBe(row["etag"]);
    expect(gzOp?.op === "set" && gzOp.value.equals(row["view_gz"] as Buffer)).toBe(true);
  });

  it("removes the gzip views when a view shrinks below the threshold, and sends no removal when the row had none", () => {
    const s = new Scenario();
    const id = s.createProduct(T(1), { description: "x".repeat(2000) });
    const rows = new Map<string, Row>();
    foldBatch(productCatalog, rows, s.log.events.slice(0, 1));
    const gzRemovals = (ops: ViewOp[]): string[] => ops.filter((op) => op.op === "del" && op.key.includes("_gz:")).map((op) => op.key.split(":")[2]!).sort();
    // Shrinks: both gzip views go.
    s.changeDetails(T(2), id, { description: "short" });
    expect(gzRemovals(foldBatch(productCatalog, rows, s.log.events.slice(1, 2)).views)).toEqual(["id_gz", "sku_gz"]);
    expect(rows.get(`products|${id}`)!["view_gz"]).toBeNull();
    // Small before and after (a price change, a sale): nothing to remove.
    s.changePrice(T(3), id, 1234);
    const later = foldBatch(productCatalog, rows, s.log.events.slice(2, 3)).views;
    expect(later.some((op) => op.op === "set" && op.key.endsWith(`:id:${id}`))).toBe(true);
    expect(gzRemovals(later)).toEqual([]);
    // A restore (no previous row) removes them, whatever Redis holds.
    expect(gzRemovals(productCatalog.views!("products", id, rows.get(`products|${id}`), undefined, 1))).toEqual(["id_gz", "sku_gz"]);
  });

  it("reads rows loaded from PostgreSQL (bigint text, Date timestamps) the same way", () => {
    const s = new Scenario();
    const id = s.createProduct(T(1));
    const { rows } = foldAll(productCatalog, s.log.events);
    const loaded = { ...rows.get(`products|${id}`)!, units_sold: "0", revenue_cents: "0", created_at: new Date(T(1)) as unknown as string, updated_at: "2026-11-21 10:00:01.000+00" };
    s.changePrice(T(2), id, 999);
    const next = productCatalog.finalize!("products", productCatalog.reduce({ table: "products", key: id }, loaded, s.log.events[1]!)!);
    expect(JSON.parse((next["view"] as Buffer).toString())).toMatchObject({ createdAt: T(1), updatedAt: T(2), priceCents: 999, unitsSold: 0, version: 2 });
  });

  it("is deterministic: the same events give byte-identical rows and views, whatever the batch size", () => {
    const build = (): Scenario => {
      const s = new Scenario();
      const ids = ["11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"];
      for (const [i, id] of ids.entries()) s.createProduct(T(i), { id, sku: `S${i}`, description: "d".repeat(1500 * i) });
      const o = s.placeOrder(T(5), "33333333-3333-4333-8333-333333333333", [[ids[0]!, 1], [ids[1]!, 2]], "44444444-4444-4444-8444-444444444444");
      s.pay(T(6), o);
      s.changePrice(T(7), ids[1]!, 5);
      return s;
    };
    const one = foldAll(productCatalog, build().log.events);
    const two = foldAll(productCatalog, build().log.events, 1);
    expect([...two.rows.entries()]).toEqual([...one.rows.entries()]);
    expect(applyViews(two.views)).toEqual(applyViews(one.views));
  });

  it("ignores a redelivered product event", () => {
    const s = new Scenario();
    const id = s.createProduct(T(1));
    s.changePrice(T(2), id, 5);
    const rows = new Map<string, Row>();
    foldBatch(productCatalog, rows, s.log.events);
    const before = rows.get(`products|${id}`);
    foldBatch(productCatalog, rows, s.log.events);
    expect(rows.get(`products|${id}`)).toEqual(before);
  });
});
