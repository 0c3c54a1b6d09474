/**
 * The OpenAPI 3.1 document served at GET /openapi.json, generated from the RouteDocs that
 * every route module publishes with the same zod schemas its handlers use, so the
 * document cannot drift from the code.
 */
import { z } from "zod";
import { healthDocs } from "./health.ts";
import { bodyEtag, sendPrepared } from "./conditional.ts";
import type { ResponseDoc, RouteDoc, RouteModule } from "./route_module.ts";

type JsonSchema = Record<string, unknown>;

/** The problem+json error body every error answer uses. */
export const problemSchema = z
  .object({
    type: z.enum([
      "validation", "unauthorized", "forbidden", "not_found", "conflict", "precondition_failed",
      "payload_too_large", "unsupported_media_type", "unprocessable", "unavailable", "internal",
    ]),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .describe("A problem+json error (RFC 9457)");

/** Shared definitions collected while converting (zod puts schemas with an id under $defs). */
const collectedDefs = new Map<string, JsonSchema>();

/** Rewrites `#/$defs/X` references to `#/components/schemas/X` (OpenAPI resolves `#` against the document). */
function relocateRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(relocateRefs);
  if (value && typeof value === "object") {
    const out: JsonSchema = {};
    for (const [key, inner] of Object.entries(value)) {
      out[key] = key === "$ref" && typeof inner === "string" ? inner.replace(/^#\/\$defs\//, "#/components/schemas/") : relocateRefs(inner);
    }
    return out;
  }
  return value;
}

function toSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const json = relocateRefs(z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" })) as JsonSchema;
  delete json["$schema"];
  const defs = json["$defs"] as Record<string, JsonSchema> | undefined;
  if (defs) {
    for (const [name, def] of Object.entries(defs)) collectedDefs.set(name, def);
    delete json["$defs"];
  }
  return json;
}

function objectProperties(schema: z.ZodType): Array<{ name: string; schema: JsonSchema; required: boolean }> {
  const json = toSchema(schema, "input");
  const properties = (json["properties"] ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json["required"] ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({ name, schema: property, required: required.has(name) }));
}

function operation(doc: RouteDoc): JsonSchema {
  const parameters: JsonSchema[] = [];
  if (doc.params) for (const p of objectProperties(doc.params)) parameters.push({ name: p.name, in: "path", required: true, schema: p.schema });
  if (doc.query) for (const p of objectProperties(doc.query)) parameters.push({ name: p.name, in: "query", required: p.required, schema: p.schema });
  for (const [name, description] of Object.entries(doc.headers ?? {})) parameters.push({ name, in: "header", required: false, description, schema: { type: "string" } });
  const responses: JsonSchema = {};
  const documented: Record<number, ResponseDoc> = { ...doc.responses };
  if (doc.scope) {
    documented[401] ??= { description: "No or unknown bearer token", headers: { "WWW-Authenticate": "Bearer" } };
    documented[403] ??= { description: `The token lacks the \`${doc.scope}\` scope` };
  }
  for (const [status, response] of Object.entries(documented)) {
    const code = Number(status);
    const headers = Object.fromEntries(Object.entries(response.headers ?? {}).map(([name, description]) => [name, { description, schema: { type: "string" } }]));
    const content =
      code >= 400
        ? { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } }
        : response.schema
          ? { "application/json": { schema: toSchema(response.schema, "output") } }
          : undefined;
    responses[status] = { description: response.description, ...(Object.keys(headers).length ? { headers } : {}), ...(content ? { content } : {}) };
  }
  return {
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    ...(doc.tags ? { tags: doc.tags } : {}),
    ...(doc.scope ? { security: [{ bearer: [doc.scope] }] } : { security: [] }),
    ...(parameters.length ? { parameters } : {}),
    // An absent body reads as {} (http/body.ts): required only when {} does not fit the schema.
    ...(doc.body ? { requestBody: { required: !doc.body.safeParse({}).success, content: { "application/json": { schema: toSchema(doc.body, "input") } } } } : {}),
    responses,
  };
}

/** What holds for every route, beyond what each operation lists. */
const GENERAL_NOTES = [
  "Every path answers 405 (problem+json, `type` `not_found`: the contract's closed list has no method type) with an `Allow` header for a method it does not define, and 404 for a path no route has. HEAD is answered wherever GET is; OPTIONS answers 200 with no body and an `Allow` header listing the path's methods.",
  "The HTTP layer answers these itself, in problem+json, and closes the connection: 431 when a request's head (request line and headers) is over 16 KiB; 408 when the head does not arrive within 10 s or the whole request within 30 s; 400 for a request that is not valid HTTP/1.1 (an HTTP/1.1 request without `Host`, and any request with two `Host` lines or one that is not a host, included); 417 for an `Expect` other than `100-continue`. `Expect: 100-continue` with a `Content-Length` over 64 KiB gets the 413 without a 100 Continue.",
  "Commands and reads by id or sku take no query parameters; list reads take only those listed. An unknown query parameter is a 400 issue `query.<name>`, listed with every other issue of the request (params, query, headers, body).",
  "A request body with a `Content-Encoding` other than `identity` answers 415.",
  "A request that has no answer within its deadline (15 s, or CONSISTENCY_WAIT_MS + 10 s when that is longer: a store that stopped answering) answers 503 with `Retry-After`. A command cut off so may still be applied: retry it with its Idempotency-Key.",
  "`/metrics` (Prometheus text) is public like the health routes: it shows counts and timings, never data.",
].join("\n\n");

/** Builds the OpenAPI 3.1 document for the given route docs. */
export function buildOpenApi(docs: readonly RouteDoc[], info: { title: string; version: string; description?: string }): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const doc of docs) {
    paths[doc.path] ??= {};
    paths[doc.path]![doc.method] = operation(doc);
  }
  const problem = toSchema(problemSchema, "output");
  return {
    openapi: "3.1.0",
    info: { ...info, description: [info.description, GENERAL_NOTES].filter(Boolean).join("\n\n") },
    paths,
    components: {
      schemas: { ...Object.fromEntries(collectedDefs), Problem: problem },
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "Tokens from API_TOKENS (token:scope[+scope]); scopes `commands`, `operator`." } },
    },
  };
}

/** A route module serving GET /openapi.json for the docs of the given modules (and its own). */
export function openApiRoutes(modules: readonly RouteModule[], info: { title: string; version: string; description?: string }): RouteModule {
  const ownDoc: RouteDoc = {
    method: "get", path: "/openapi.json", summary: "This OpenAPI document", tags: ["operations"], headers: { "If-None-Match": "An ETag of this document: 304 when it matches" },
    responses: { 200: { description: "OpenAPI 3.1 document (ETag; gzip or br when accepted)" }, 304: { description: "The document has not changed" } },
  };
  let body: Buffer | null = null;
  let etag = "";
  return {
    docs: [ownDoc],
    register(router) {
      router.get("/openapi.json", async (ctx) => {
        if (body === null) {
          body = Buffer.from(JSON.stringify(buildOpenApi([...modules.flatMap((module) => module.docs), ...healthDocs, ownDoc], info)));
          etag = bodyEtag(body);
        }
        // Like a read: ETag, If-None-Match → 304, compressed when the client accepts it.
        await sendPrepared(ctx, { etag, body });
      });
    },
  };
}
