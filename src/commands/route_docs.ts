/**
 * OpenAPI descriptions shared by command routes: request headers and response sets.
 */
import type { ZodType } from "zod";
import type { ResponseDoc, RouteDoc } from "../http/route_module.ts";
import { commandResultSchema } from "./common_schemas.ts";

/** Request headers every command reads. */
export const commandHeaders: Record<string, string> = {
  "If-Match":
    'Optional. `"<version>"`, or a list of them: answer 412 unless the aggregate is at one of these versions. The comparison is strong ' +
    '(RFC 9110): a weak tag (`W/"3"`), `"03"` or any other tag that is not a version (`""`, `"abc"`) never matches (412); a bare `3` is read as `"3"`; ' +
    "`*` matches any existing aggregate. A value that is not an entity-tag list at all (`abc`, `\"3`) is a 400.",
  "Idempotency-Key":
    "Optional. 1..200 printable ASCII; a repeat with the same route and body within 24 h answers the first status and body again " +
    "(another route or body: 422). The same body is the same JSON value: key order and whitespace do not matter, but a field " +
    "sent with its default or with spaces the command would trim is another body. Each token of API_TOKENS has its own key space: a key sent with one token is unknown to another, and a retry " +
    "must use the token of the first attempt (the token generated when API_TOKENS is unset keeps one space across restarts). Unique keys (a UUID) are still best. A request refused before it " +
    "is run (400, 401, 403, 413, 415) does not take its key.",
};

/** The same, for creates: there is no aggregate (and no version) to match yet. */
const createHeaders: Record<string, string> = {
  ...commandHeaders,
  "If-Match": 'Not used by creates (a duplicate id is a 409); it is still read: a value that is not an entity-tag, a list of them or `*` is a 400.',
};

/** The header of an answer repeated for an Idempotency-Key (any status the first attempt got). */
const REPLAYED = "`true` when this is the stored answer to an earlier request with the same Idempotency-Key (nothing was appended); absent otherwise";

function commandResponses(create: boolean, extra: Record<number, string>): Record<number, ResponseDoc> {
  const success: ResponseDoc = create
    ? { description: "Created", schema: commandResultSchema, headers: { ETag: '"<version>"', Location: "URL of the created resource", "Idempotent-Replayed": REPLAYED } }
    : { description: "Done (or nothing to change)", schema: commandResultSchema, headers: { ETag: '"<version>"', "Idempotent-Replayed": REPLAYED } };
  const responses: Record<number, ResponseDoc> = {
    [create ? 201 : 200]: success,
    400: { description: "Body, params or headers fail the schema (a body that is not JSON, or gives a key twice in one object, included); lists every issue with its dotted path" },
    401: { description: "No or unknown bearer token" },
    403: { description: "The token lacks the scope `commands`" },
    409: { description: "Not allowed in the current state, duplicate create, or a concurrent write that still conflicts" },
    413: { description: "Body larger than 64 KiB" },
    415: { description: "Body is not application/json" },
    408: { description: "The body did not arrive in time (type `validation`); the connection is closed" },
    422: { description: "Well-formed but does not fit, or an Idempotency-Key reused with another request" },
    429: { description: "Too many requests from this client (COMMAND_RATE_LIMIT per second, bursts of 2×); type `unavailable`", headers: { "Retry-After": "seconds" } },
    503: { description: "A store is unavailable; retry after Retry-After seconds", headers: { "Retry-After": "seconds" } },
  };
  if (!create) {
    responses[404] = { description: "The aggregate does not exist" };
    responses[412] = { description: "If-Match does not match the current version" };
  }
  for (const [status, description] of Object.entries(extra)) {
    const general = responses[Number(status)];
    responses[Number(status)] = { ...general, description: general ? `${description}. ${general.description}` : description };
  }
  return responses;
}

/** The RouteDoc of one command route. */
export function commandDoc(options: {
  path: string;
  summary: string;
  tag: string;
  create: boolean;
  body: ZodType;
  params?: ZodType;
  description?: string;
  extra?: Record<number, string>;
}): RouteDoc {
  return {
    method: "post",
    path: options.path,
    summary: options.summary,
    tags: [options.tag],
    scope: "commands",
    headers: options.create ? createHeaders : commandHeaders,
    body: options.body,
    ...(options.params ? { params: options.params } : {}),
    ...(options.description ? { description: options.description } : {}),
    responses: commandResponses(options.create, options.extra ?? {}),
  };
}
