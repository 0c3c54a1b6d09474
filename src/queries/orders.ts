/**
 * Queries on the orders read model: an order by id (prepared bytes from Redis, else the
 * PostgreSQL row) and a customer's orders (placedAt desc, ties by id desc; keyset pages
 * of the prepared customer-list items).
 */
import type { Context } from "koa";
import { z } from "zod";
import { acceptsGzip, sendBuilt, sendPrepared } from "../http/conditional.ts";
import { checkQuery, waitForPosition, type ConsistencyOptions } from "../http/consistency.ts";
import type { RouteModule } from "../http/route_module.ts";
import { NotFoundError } from "../shared/errors.ts";
import { cursorOfOrderMember, customerItemsKey, customerSetKey, orderMember } from "../shared/customer_orders_keys.ts";
import { readTable, sentinelKey, viewKey } from "../shared/read_models.ts";
import { customerOrdersAnswer, orderAnswer } from "./answers.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import type { QueryDeps } from "./deps.ts";
import { readLexPage } from "./lex_page.ts";
import { itemsBody, preparedSql, readPrepared } from "./prepared.ts";
import { queryDoc } from "./route_docs.ts";
import { cursorParam, fromYearOne, limitParam, parseQueryInput, pathParamsWithoutQuery, uuidPathParam, uuidSchema } from "./schemas.ts";
import { viewOrTable } from "./view_source.ts";

/** The projection these routes read. */
export const ORDERS = "orders";

const CURSOR_TAG = "customer-orders";
const byIdParams = z.strictObject({ id: uuidSchema });
const customerParams = z.strictObject({ customerId: uuidSchema });
const customerQuery = z.strictObject({
  status: z.enum(["placed", "paid", "shipped", "cancelled"]).optional(),
  limit: limitParam(20),
  cursor: cursorParam.optional(),
});
const customerInput = z.object({ params: customerParams, query: customerQuery });
const cursorKey = z.tuple([fromYearOne(z.iso.datetime({ precision: 3 })), uuidSchema]);

/** Builds the customer-orders statement; rows are `{ summary, row_id, k }` with `k` placed_at as ISO text. */
export function customerOrdersSql(options: { table: string; customerId: string; status?: string | undefined; after?: [string, string] | undefined; limit: number }): { text: string; values: unknown[] } {
  const values: unknown[] = [options.customerId];
  const where = ["customer_id = $1"];
  if (options.status !== undefined) {
    values.push(options.status);
    where.push(`status = $${values.length}`);
  }
  if (options.after !== undefined) {
    values.push(options.after[0], options.after[1]);
    where.push(`(placed_at, id) < ($${values.length - 1}::timestamptz, $${values.length}::uuid)`);
  }
  values.push(options.limit + 1);
  const text =
    `SELECT summary, id::text AS row_id, to_char(placed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS k ` +
    `FROM ${options.table} WHERE ${where.join(" AND ")} ORDER BY placed_at DESC, id DESC LIMIT $${values.length}`;
  return { text, values };
}

/** A page of a customer's orders from their Redis set and item hash (one script call); null: ask PostgreSQL. */
async function customerOrdersFromRedis(deps: QueryDeps, customerId: string, status: string | undefined, after: [string, string] | undefined, limit: number): Promise<Buffer | null> {
  const version = deps.activeVersions.get(ORDERS);
  const page = await readLexPage({
    redis: deps.redis,
    sentinel: sentinelKey(ORDERS, version),
    set: customerSetKey(version, customerId, status ?? null),
    after: after === undefined ? null : orderMember(after[0], after[1]),
    count: limit + 1,
    values: { hash: customerItemsKey(version, customerId) },
  });
  if (page === null) return null;
  const last = page[limit - 1];
  const next = page.length > limit && last !== undefined ? encodeCursor(CURSOR_TAG, cursorOfOrderMember(last.member)) : null;
  return itemsBody(page.slice(0, limit).map((entry) => entry.value), `,"nextCursor":${JSON.stringify(next)}`);
}

/** A page of a customer's orders from the orders table (the same bytes and cursors as the Redis path). */
async function customerOrdersFromPostgres(deps: QueryDeps, customerId: string, status: string | undefined, after: [string, string] | undefined, limit: number): Promise<Buffer> {
  const statement = customerOrdersSql({ table: readTable("orders", deps.activeVersions.get(ORDERS)), customerId, status, after, limit });
  const result = await deps.pool.query<{ summary: Buffer; row_id: string; k: string }>(statement.text, statement.values);
  const rows = result.rows.slice(0, limit);
  const last = rows.at(-1);
  const next = result.rows.length > limit && last !== undefined ? encodeCursor(CURSOR_TAG, [last.k, last.row_id]) : null;
  return itemsBody(rows.map((row) => row.summary), `,"nextCursor":${JSON.stringify(next)}`);
}

async function sendCustomerOrders(ctx: Context, deps: QueryDeps, consistency: ConsistencyOptions): Promise<void> {
  const { input: { customerId, query, after }, position } = checkQuery(ctx, () => {
    const { params: { customerId }, query } = parseQueryInput(customerInput, ctx.query, "", (query) => ({ params: ctx.params, query }));
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, CURSOR_TAG, cursorKey);
    return { customerId, query, after };
  });
  if (position !== null) await waitForPosition(position, consistency);
  const page = await viewOrTable(
    deps.onViewRead,
    () => customerOrdersFromRedis(deps, customerId, query.status, after, query.limit),
    () => customerOrdersFromPostgres(deps, customerId, query.status, after, query.limit),
  );
  await sendBuilt(ctx, page);
}

/** Routes: GET /v1/orders/{id} and /v1/customers/{customerId}/orders. */
export function orderRoutes(deps: QueryDeps): RouteModule {
  const consistency: ConsistencyOptions = { progress: deps.progress, waitMs: deps.consistencyWaitMs, projections: [ORDERS] };
  return {
    register(router) {
      // A hot read: a regex before zod, no promise for the wait when none is asked for.
      router.get("/v1/orders/:id", async (ctx) => {
        const { input: id, position } = checkQuery(ctx, () => pathParamsWithoutQuery(ctx, () => uuidPathParam(ctx.params, "id", byIdParams)));
        if (position !== null) await waitForPosition(position, consistency);
        const version = deps.activeVersions.get(ORDERS);
        const answer = await readPrepared({
          redis: deps.redis,
          cache: deps.viewCache,
          fresh: position !== null,
          viewKey: viewKey(ORDERS, version, "id", id),
          gzipKey: viewKey(ORDERS, version, "id_gz", id),
          wantGzip: acceptsGzip(ctx.req.headers),
          pool: deps.pool,
          sql: preparedSql(readTable("orders", version), "id"),
          key: id,
          onViewRead: deps.onViewRead,
        });
        if (answer === null) throw new NotFoundError("No order with this id");
        await sendPrepared(ctx, answer);
      });
      router.get("/v1/customers/:customerId/orders", async (ctx) => sendCustomerOrders(ctx, deps, consistency));
    },
    docs: [
      queryDoc({ path: "/v1/orders/{id}", summary: "An order", tags: ["orders"], params: byIdParams, answer: orderAnswer, notFound: true }),
      queryDoc({
        path: "/v1/customers/{customerId}/orders",
        summary: "A customer's orders, newest first (placedAt desc, ties by id desc), in keyset pages",
        description: "A customer with no orders gets an empty list. Walk nextCursor until null. Unknown query parameters are a 400.",
        tags: ["orders"],
        params: customerParams,
        query: customerQuery,
        answer: customerOrdersAnswer,
      }),
    ],
  };
}
