/**
 * Route documentation shared by the query routes: the request headers every query
 * reads and the responses every query can give.
 */
import type { ZodType } from "zod";
import { CONSISTENT_WITH_DOC } from "../http/consistency.ts";
import type { RouteDoc } from "../http/route_module.ts";
import { QUERY_RESPONSE_HEADERS } from "./answers.ts";

/** Documents a public GET query route with its params, query string and answer schemas. */
export function queryDoc(options: {
  path: string;
  summary: string;
  description?: string;
  tags: string[];
  params?: ZodType;
  query?: ZodType;
  answer: ZodType;
  notFound?: boolean;
}): RouteDoc {
  const responses: RouteDoc["responses"] = {
    200: { description: "The answer", schema: options.answer, headers: QUERY_RESPONSE_HEADERS },
    304: { description: "Not modified (If-None-Match matched the ETag, in any coding): no body; ETag (of the coding a 200 would have), Cache-Control and Vary as on a 200", headers: { ETag: QUERY_RESPONSE_HEADERS["ETag"]!, "Cache-Control": "no-cache", Vary: "Accept-Encoding" } },
    400: { description: "Params, query string or X-Consistent-With do not fit (every issue listed)" },
    503: { description: "The read model did not reach X-Consistent-With in time, or a store is down; retry after Retry-After seconds", headers: { "Retry-After": "seconds" } },
  };
  if (options.notFound === true) responses[404] = { description: "Not found" };
  const doc: RouteDoc = {
    method: "get",
    path: options.path,
    summary: options.summary,
    tags: options.tags,
    headers: {
      "X-Consistent-With": CONSISTENT_WITH_DOC,
      "If-None-Match": "ETag of a previous answer: 304 when unchanged",
      "Accept-Encoding": "gzip or br: bodies over 1 KiB are compressed",
    },
    responses,
  };
  if (options.description !== undefined) doc.description = options.description;
  if (options.params !== undefined) doc.params = options.params;
  if (options.query !== undefined) doc.query = options.query;
  return doc;
}
