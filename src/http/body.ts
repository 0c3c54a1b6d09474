/**
 * Reads a JSON request body: checks the media type, bounds the size (64 KiB) without
 * reading past it, bounds the time (a client that stops sending mid-body gets a 408 and
 * the connection is closed), rejects invalid UTF-8 and invalid JSON. An empty body reads
 * as `{}`. A key given twice in one object is a 400 naming it (json_duplicates.ts), where
 * JSON.parse would keep the last silently. Nesting depth needs no bound: V8's JSON.parse is not
 * recursive, and 64 KiB allow at most ~32k levels.
 */
import type Koa from "koa";
import type { Context } from "koa";
import getRawBody from "raw-body";
import { AppError, PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError, type Issue } from "../shared/errors.ts";
import { withTimeout } from "../shared/with_timeout.ts";
import { duplicateKeyIssues } from "./json_duplicates.ts";
import { sentMoreThanOnce } from "./repeated_header.ts";

/** The largest accepted request body in bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Default longest time to receive a body (64 KiB in 10 s is 6.5 KiB/s: only stalled clients hit it). */
export const BODY_TIMEOUT_MS = 10_000;

/**
 * 408: the body did not arrive in time. The contract's closed list of problem types has no
 * timeout entry; the request is incomplete, so `validation` (a bad request) is closest.
 */
export class RequestTimeoutError extends AppError {
  constructor(timeoutMs: number) {
    super({ status: 408, type: "validation", title: "Request timeout", detail: `The body did not arrive within ${timeoutMs} ms` });
  }
}

/** Sets how long readJsonBody waits for a body on every request of an app. */
export function setBodyTimeout(app: Koa, timeoutMs: number): void {
  app.context["bodyTimeoutMs"] = timeoutMs;
}

function bodyTimeoutOf(ctx: Context): number {
  const value: unknown = ctx["bodyTimeoutMs"];
  return typeof value === "number" && value > 0 ? value : BODY_TIMEOUT_MS;
}

const JSON_TYPE = /^application\/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

/** True when a Content-Type header names JSON in UTF-8 (the only body type commands take). */
export function isJsonContentType(contentType: string): boolean {
  return JSON_TYPE.test(contentType.trim());
}

function declaredLength(ctx: Context): number | null {
  const header = ctx.get("Content-Length");
  if (header === "") return null;
  const length = Number(header);
  return Number.isSafeInteger(length) && length >= 0 ? length : null;
}

async function readBytes(ctx: Context, limit: number, length: number | null): Promise<Buffer> {
  try {
    // After a timeout the read fails later (the connection closes); nobody waits for it then.
    const timeoutMs = bodyTimeoutOf(ctx);
    return await withTimeout(getRawBody(ctx.req, { limit, ...(length === null ? {} : { length }) }), timeoutMs, () => new RequestTimeoutError(timeoutMs));
  } catch (error) {
    if (error instanceof RequestTimeoutError) throw error;
    const type = (error as { type?: unknown }).type;
    if (type === "entity.too.large") throw tooLarge(limit);
    if (type === "request.size.invalid") throw new ValidationError([{ path: "(body)", message: "Body size does not match Content-Length" }]);
    // The client went away mid-body: its request is incomplete (a 400 nobody reads), not a
    // failure of ours to log as an error and count as a 500.
    if (type === "request.aborted") throw new ValidationError([{ path: "(body)", message: "The connection closed before the whole body arrived" }]);
    throw error;
  }
}

function tooLarge(limit: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`The body must not exceed ${limit} bytes`);
}

/** Reads and parses the JSON body of a request; `{}` when the body is empty. */
export async function readJsonBody(ctx: Context, limit = MAX_BODY_BYTES): Promise<unknown> {
  const length = declaredLength(ctx);
  const chunked = ctx.get("Transfer-Encoding") !== "";
  if (length === 0 || (length === null && !chunked)) return {};
  if (length !== null && length > limit) {
    ctx.set("Connection", "close");
    throw tooLarge(limit);
  }
  // Node keeps the first of two Content-Type lines; which one the sender meant is unknown.
  if (sentMoreThanOnce(ctx.req, "content-type")) throw new ValidationError([{ path: "headers.Content-Type", message: "must be sent once" }]);
  const jsonType = isJsonContentType(ctx.get("Content-Type"));
  if (!jsonType && length !== null) throw new UnsupportedMediaTypeError();
  // Compressed request bodies are not accepted (RFC 9110 §15.5.16: 415 for a content coding
  // the server does not support); the body is left unread.
  const coding = ctx.get("Content-Encoding").trim().toLowerCase();
  if (coding !== "" && coding !== "identity") {
    ctx.set("Connection", "close");
    ctx.set("Accept-Encoding", "identity");
    throw new UnsupportedMediaTypeError(`Content-Encoding ${coding} is not supported: send the body uncompressed`);
  }
  let bytes: Buffer;
  try {
    bytes = await readBytes(ctx, limit, length);
  } catch (error) {
    // The rest of the body is never read: the connection cannot carry another request.
    if (error instanceof PayloadTooLargeError || error instanceof RequestTimeoutError) ctx.set("Connection", "close");
    throw error;
  }
  if (bytes.length === 0) return {};
  if (!jsonType) throw new UnsupportedMediaTypeError();
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ValidationError([{ path: "(body)", message: "Body is not valid UTF-8" }]);
  }
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw new ValidationError([{ path: "(body)", message: "Body is not valid JSON" }]);
  }
  const duplicates = duplicateKeyIssues(text);
  if (duplicates.length > 0) throw new ValidationError(duplicates);
  return value;
}

/**
 * readJsonBody for a handler that lists every issue of a request: a body that is not valid
 * JSON adds its issue to `issues` and gives undefined (a readable body is never undefined:
 * an empty one reads as {}); 413, 415 and the like are thrown.
 */
export async function readJsonBodyInto(ctx: Context, issues: Issue[]): Promise<unknown> {
  try {
    return await readJsonBody(ctx);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    issues.push(...error.issues);
    return undefined;
  }
}
