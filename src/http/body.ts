/**
 * Reads a JSON request body: checks the media type, bounds the size (64 KiB) without
 * reading past it, rejects invalid UTF-8 and invalid JSON. An empty body reads as `{}`.
 */
import type { Context } from "koa";
import getRawBody from "raw-body";
import { PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError } from "../shared/errors.ts";

/** The largest accepted request body in bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

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
    return await getRawBody(ctx.req, { limit, ...(length === null ? {} : { length }) });
  } catch (error) {
    const type = (error as { type?: unknown }).type;
    if (type === "entity.too.large") throw tooLarge(limit);
    if (type === "request.size.invalid") throw new ValidationError([{ path: "(body)", message: "Body size does not match Content-Length" }]);
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
  const jsonType = isJsonContentType(ctx.get("Content-Type"));
  if (!jsonType && length !== null) throw new UnsupportedMediaTypeError();
  let bytes: Buffer;
  try {
    bytes = await readBytes(ctx, limit, length);
  } catch (error) {
    if (error instanceof PayloadTooLargeError) ctx.set("Connection", "close");
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
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ValidationError([{ path: "(body)", message: "Body is not valid JSON" }]);
  }
}
