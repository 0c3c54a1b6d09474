/**
 * Queries on the product_catalog read model: a product by id or sku (prepared bytes from
 * Redis, else the PostgreSQL row), the filtered and sorted product list (keyset pages of
 * prepared bytes), and best sellers per category (Redis sorted set, else the table).
 */
import type { Context } from "koa";
import { z } from "zod";
import { acceptsGzip, sendBuilt, sendPrepared } from "../http/conditional.ts";
import { checkQuery, waitForPosition, type ConsistencyOptions } from "../http/consistency.ts";
import type { RouteModule } from "../http/route_module.ts";
import { NotFoundError, ValidationError } from "../shared/errors.ts";
import { cursorOfMember, listSetKey, memberOfCursor } from "../shared/product_list_keys.ts";
import { readTable, sentinelKey, unframeView, viewKey } from "../shared/read_models.ts";
import { parseOrThrow } from "../shared/validation.ts";
import { bestSellersAnswer, productAnswer, productListAnswer } from "./answers.ts";
import { readBestSellers } from "./best_sellers.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import type { QueryDeps } from "./deps.ts";
import { readLexPage } from "./lex_page.ts";
import { itemsBody, preparedSql, readPrepared } from "./prepared.ts";
import { PRODUCT_SORTS, productListSql, type ProductSort } from "./product_list_sql.ts";
import { queryDoc } from "./route_docs.ts";
import { categorySchema, cursorParam, fromYearOne, intParam, limitParam, parseQueryInput, skuSchema, pathParamsWithoutQuery, uuidPathParam, uuidSchema } from "./schemas.ts";
import { viewOrTable } from "./view_source.ts";

/** The projection these routes read. */
export const PRODUCT_CATALOG = "product_catalog";

const byIdParams = z.strictObject({ id: uuidSchema });
const bySkuParams = z.strictObject({ sku: skuSchema });
const listQuery = z
  .strictObject({
    category: categorySchema.optional(),
    status: z.enum(["active", "discontinued", "any"]).default("active"),
    minPriceCents: intParam(0, 100_000_000).optional(),
    maxPriceCents: intParam(0, 100_000_000).optional(),
    sort: z.enum(["newest", "price_asc", "price_desc", "best_selling"]).default("newest"),
    limit: limitParam(20),
    cursor: cursorParam.optional(),
  })
  .refine((q) => q.minPriceCents === undefined || q.maxPriceCents === undefined || q.minPriceCents <= q.maxPriceCents, {
    path: ["maxPriceCents"],
    message: "must be at least minPriceCents",
  });
const bestSellersParams = z.strictObject({ category: categorySchema });
const bestSellersQuery = z.strictObject({ limit: limitParam(10) });
const bestSellersInput = z.object({ params: bestSellersParams, query: bestSellersQuery });

const cursorKeys: Record<ProductSort, z.ZodType<[string | number, string]>> = {
  newest: z.tuple([fromYearOne(z.iso.datetime({ precision: 3 })), uuidSchema]),
  price_asc: z.tuple([z.number().int().min(0), uuidSchema]),
  price_desc: z.tuple([z.number().int().min(0), uuidSchema]),
  best_selling: z.tuple([z.number().int(), uuidSchema]),
};

function table(deps: QueryDeps): { name: string; version: number } {
  const version = deps.activeVersions.get(PRODUCT_CATALOG);
  return { name: readTable("products", version), version };
}

async function sendProduct(ctx: Context, deps: QueryDeps, by: "id" | "sku", key: string): Promise<void> {
  const { name, version } = table(deps);
  const answer = await readPrepared({
    redis: deps.redis,
    cache: deps.viewCache,
    fresh: ctx.req.headers["x-consistent-with"] !== undefined,
    viewKey: viewKey(PRODUCT_CATALOG, version, by, key),
    gzipKey: viewKey(PRODUCT_CATALOG, version, `${by}_gz`, key),
    wantGzip: acceptsGzip(ctx.req.headers),
    pool: deps.pool,
    sql: preparedSql(name, by),
    key,
    onViewRead: deps.onViewRead,
  });
  if (answer === null) throw new NotFoundError(by === "id" ? "No product with this id" : "No product with this sku");
  await sendPrepared(ctx, answer);
}

/**
 * A list page from the Redis list sets (one script call), when the query is one they hold:
 * one status (not "any") and no price range. Null: ask PostgreSQL.
 */
async function listFromRedis(deps: QueryDeps, query: z.infer<typeof listQuery>, after: [string | number, string] | undefined): Promise<Buffer | null> {
  if (query.status === "any" || query.minPriceCents !== undefined || query.maxPriceCents !== undefined) return null;
  const version = deps.activeVersions.get(PRODUCT_CATALOG);
  const page = await readLexPage({
    redis: deps.redis,
    sentinel: sentinelKey(PRODUCT_CATALOG, version),
    set: listSetKey(version, query.status, query.sort, query.category ?? null),
    after: after === undefined ? null : memberOfCursor(query.sort, after),
    count: query.limit + 1,
    values: { prefix: viewKey(PRODUCT_CATALOG, version, "id", "") },
  });
  if (page === null) return null;
  const items: Buffer[] = [];
  for (const { value } of page.slice(0, query.limit)) {
    const view = unframeView(value);
    if (view === null) return null;
    items.push(view.body);
  }
  const last = page[query.limit - 1];
  const next = page.length > query.limit && last !== undefined ? encodeCursor(`products:${query.sort}`, cursorOfMember(query.sort, last.member)) : null;
  return itemsBody(items, `,"nextCursor":${JSON.stringify(next)}`);
}

async function sendList(ctx: Context, deps: QueryDeps, consistency: ConsistencyOptions): Promise<void> {
  const { input: { query, after }, position } = checkQuery(ctx, () => {
    const query = parseQueryInput(listQuery, ctx.query, "query");
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, `products:${query.sort}`, cursorKeys[query.sort]);
    return { query, after };
  });
  if (position !== null) await waitForPosition(position, consistency);
  await sendBuilt(ctx, await viewOrTable(deps.onViewRead, () => listFromRedis(deps, query, after), () => listFromPostgres(deps, query, after)));
}

/** The list page from the products table (the same bytes and cursors as the Redis path). */
async function listFromPostgres(deps: QueryDeps, query: z.infer<typeof listQuery>, after: [string | number, string] | undefined): Promise<Buffer> {
  const statement = productListSql({
    table: table(deps).name,
    status: query.status,
    category: query.category,
    minPriceCents: query.minPriceCents,
    maxPriceCents: query.maxPriceCents,
    sort: query.sort,
    after: after === undefined ? undefined : { key: after[0], id: after[1] },
    limit: query.limit,
  });
  const result = await deps.pool.query<{ view: Buffer; row_id: string; k: string }>(statement.text, statement.values);
  const rows = result.rows.slice(0, query.limit);
  const last = rows.at(-1);
  let next: string | null = null;
  if (result.rows.length > query.limit && last !== undefined) {
    const key = PRODUCT_SORTS[query.sort].cast === "bigint" ? Number(last.k) : last.k;
    next = encodeCursor(`products:${query.sort}`, [key, last.row_id]);
  }
  return itemsBody(rows.map((row) => row.view), `,"nextCursor":${JSON.stringify(next)}`);
}

/** Routes: GET /v1/products/{id}, /v1/products/by-sku/{sku}, /v1/products, /v1/categories/{category}/best-sellers. */
export function productCatalogRoutes(deps: QueryDeps): RouteModule {
  const consistency: ConsistencyOptions = { progress: deps.progress, waitMs: deps.consistencyWaitMs, projections: [PRODUCT_CATALOG] };
  return {
    register(router) {
      router.get("/v1/products/by-sku/:sku", async (ctx) => {
        const { input: { sku }, position } = checkQuery(ctx, () => pathParamsWithoutQuery(ctx, () => parseOrThrow(bySkuParams, ctx.params, "params")));
        if (position !== null) await waitForPosition(position, consistency);
        await sendProduct(ctx, deps, "sku", sku);
      });
      // Without its sku the path would read as a product id "by-sku" (a 400 about params.id).
      router.get("/v1/products/by-sku", () => {
        throw new ValidationError([{ path: "params.sku", message: "Required: GET /v1/products/by-sku/{sku}" }]);
      });
      // The hottest read: a regex before zod, no promise for the wait when none is asked for.
      router.get("/v1/products/:id", async (ctx) => {
        const { input: id, position } = checkQuery(ctx, () => pathParamsWithoutQuery(ctx, () => uuidPathParam(ctx.params, "id", byIdParams)));
        if (position !== null) await waitForPosition(position, consistency);
        await sendProduct(ctx, deps, "id", id);
      });
      router.get("/v1/products", async (ctx) => sendList(ctx, deps, consistency));
      router.get("/v1/categories/:category/best-sellers", async (ctx) => {
        const { input: { params: { category }, query: { limit } }, position } = checkQuery(ctx, () => parseQueryInput(bestSellersInput, ctx.query, "", (query) => ({ params: ctx.params, query })));
        if (position !== null) await waitForPosition(position, consistency);
        const { name, version } = table(deps);
        const items = await readBestSellers({ redis: deps.redis, pool: deps.pool, table: name, version, category, limit, onViewRead: deps.onViewRead });
        await sendBuilt(ctx, itemsBody(items, ""));
      });
    },
    docs: [
      queryDoc({ path: "/v1/products/{id}", summary: "A product", tags: ["products"], params: byIdParams, answer: productAnswer, notFound: true }),
      queryDoc({ path: "/v1/products/by-sku/{sku}", summary: "A product by sku", tags: ["products"], params: bySkuParams, answer: productAnswer, notFound: true }),
      queryDoc({
        path: "/v1/products",
        summary: "Products, filtered and sorted, in keyset pages",
        description: "Sorts: newest (createdAt desc), price_asc, price_desc, best_selling (unitsSold desc); ties by id ascending. Walk nextCursor until null; a cursor is valid only with the sort it came from. minPriceCents and maxPriceCents are whole numbers 0..100000000 and inclusive bounds; maxPriceCents below minPriceCents is a 400, as are unknown query parameters.",
        tags: ["products"],
        query: listQuery,
        answer: productListAnswer,
      }),
      queryDoc({
        path: "/v1/categories/{category}/best-sellers",
        summary: "Best-selling products of a category (unitsSold desc, ties by productId asc)",
        tags: ["products"],
        params: bestSellersParams,
        query: bestSellersQuery,
        answer: bestSellersAnswer,
      }),
    ],
  };
}
