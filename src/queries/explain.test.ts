import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projections } from "../projections/all.ts";
import { orders } from "../projections/orders/projection.ts";
import { createReadTables } from "../projections/testing/project.ts";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../testing/db.ts";
import { bestSellersSql } from "./best_sellers.ts";
import { dailySalesSql } from "./daily_sales.ts";
import { customerOrdersSql } from "./orders.ts";
import { preparedSql } from "./prepared.ts";
import { productListSql, type ProductSort } from "./product_list_sql.ts";

const ROWS = 100_000;
const ORDERS_TABLE = `orders_v${orders.version}`;
const uuid = (expression: string): string => `md5(${expression})::uuid`;

describe.skipIf(!databaseAvailable)(databaseAvailable ? "query plans on 100,000 rows" : `query plans: skipped, ${databaseSkipReason}`, () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase({ poolSize: 2 });
    await createReadTables(db.pool, projections);
    await db.pool.query(`
      INSERT INTO products_v1 SELECT ${uuid("i::text")}, 'SKU-' || i, 'Product ' || i, '', 'cat-' || (i % 50), (i * 7919) % 100000, 'EUR', i % 20,
        CASE WHEN i % 10 = 0 THEN 'discontinued' ELSE 'active' END, i % 100, (i % 100) * 500,
        timestamptz '2026-01-01' + i * interval '1 minute', timestamptz '2026-01-01' + i * interval '1 minute', 1, '\\x7b7d', NULL, '"e"'
      FROM generate_series(1, ${ROWS}) AS i`);
    await db.pool.query(`
      INSERT INTO ${ORDERS_TABLE} SELECT ${uuid("'o' || i")}, ${uuid("'c' || (i % 1000)")}, (ARRAY['placed','paid','shipped','cancelled'])[1 + i % 4], 'EUR', i * 10, 1 + i % 5,
        timestamptz '2026-01-01' + (i / 3) * interval '1 minute', timestamptz '2026-01-01' + i * interval '1 minute', 1, '\\x7b7d', NULL, '"e"', '\\x7b7d'
      FROM generate_series(1, ${ROWS}) AS i`);
    await db.pool.query(`
      INSERT INTO daily_sales_v1 SELECT to_char(date '2020-01-01' + i / 100, 'YYYY-MM-DD') || '|cat-' || (i % 50) || '|' || (CASE WHEN (i / 50) % 2 = 0 THEN 'EUR' ELSE 'USD' END),
        date '2020-01-01' + i / 100, 'cat-' || (i % 50), CASE WHEN (i / 50) % 2 = 0 THEN 'EUR' ELSE 'USD' END, 1, 1, 100, '\\x7b7d'
      FROM generate_series(0, ${ROWS - 1}) AS i`);
    await db.pool.query(`ANALYZE products_v1; ANALYZE ${ORDERS_TABLE}; ANALYZE daily_sales_v1`);
  });
  afterAll(async () => db?.drop());

  async function plan(text: string, values: unknown[]): Promise<string> {
    const result = await db.pool.query<{ "QUERY PLAN": string }>(`EXPLAIN ${text}`, values);
    return result.rows.map((row) => row["QUERY PLAN"]).join("\n");
  }

  async function expectIndexed(text: string, values: unknown[]): Promise<void> {
    const json = await plan(text, values);
    expect(json, `${text}\n${json}`).not.toContain("Seq Scan");
    expect(json, `${text}\n${json}`).toMatch(/Index (Only )?Scan/);
  }

  it("reads a product by id and by sku, an order by id, through indexes", async () => {
    await expectIndexed(preparedSql("products_v1", "id"), ["c4ca4238-a0b9-2382-0dcc-509a6f75849b"]);
    await expectIndexed(preparedSql("products_v1", "sku"), ["SKU-1"]);
    await expectIndexed(preparedSql(ORDERS_TABLE, "id"), ["c4ca4238-a0b9-2382-0dcc-509a6f75849b"]);
  });

  it("lists products by every sort and filter without a Seq Scan or a full sort", async () => {
    const sorts: ProductSort[] = ["newest", "price_asc", "price_desc", "best_selling"];
    const afterKeys: Record<ProductSort, string | number> = { newest: "2026-02-01T00:00:00.000Z", price_asc: 5000, price_desc: 5000, best_selling: 50 };
    for (const sort of sorts) {
      for (const status of ["active", "discontinued", "any"] as const) {
        for (const category of [undefined, "cat-7"]) {
          for (const prices of [{}, { minPriceCents: 1000, maxPriceCents: 90000 }]) {
            for (const after of [undefined, { key: afterKeys[sort], id: "c4ca4238-a0b9-2382-0dcc-509a6f75849b" }]) {
              const statement = productListSql({ table: "products_v1", status, category, sort, after, limit: 20, ...prices });
              await expectIndexed(statement.text, statement.values);
              const json = await plan(statement.text, statement.values);
              expect(json, `${statement.text}\n${json}`).not.toMatch(/-> {2}Sort|^Sort/m);
            }
          }
        }
      }
    }
  });

  it("reads best sellers through the partial index", async () => {
    await expectIndexed(bestSellersSql("products_v1"), ["cat-7", 10]);
  });

  it("lists a customer's orders (with and without status and cursor) through an index", async () => {
    for (const status of [undefined, "paid"]) {
      for (const after of [undefined, ["2026-01-10T00:00:00.000Z", "c4ca4238-a0b9-2382-0dcc-509a6f75849b"] as [string, string]]) {
        const statement = customerOrdersSql({ table: ORDERS_TABLE, customerId: "c4ca4238-a0b9-2382-0dcc-509a6f75849b", status, after, limit: 20 });
        await expectIndexed(statement.text, statement.values);
        // With status and a cursor, few rows remain: a bitmap scan and a small sort is fine.
      }
    }
  });

  it("reads daily sales over a range, with and without category, through the day index", async () => {
    await expectIndexed(dailySalesSql({ table: "daily_sales_v1", from: "2021-01-01", to: "2021-12-31" }).text, ["2021-01-01", "2021-12-31"]);
    const withCategory = dailySalesSql({ table: "daily_sales_v1", from: "2021-01-01", to: "2021-12-31", category: "cat-3" });
    await expectIndexed(withCategory.text, withCategory.values);
  });
});
