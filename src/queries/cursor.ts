/**
 * Opaque keyset-pagination cursors: base64url of a JSON tuple `[tag, ...key]`. The tag
 * names the list and sort the cursor belongs to; a cursor that does not decode, carries
 * another tag or a key of the wrong shape is a 400 on `query.cursor`, never a 500.
 */
import type { z } from "zod";
import { ValidationError } from "../shared/errors.ts";

/** Encodes a cursor for a list (`tag`) positioned after the given key. */
export function encodeCursor(tag: string, key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify([tag, ...key]), "utf8").toString("base64url");
}

function invalid(): ValidationError {
  return new ValidationError([{ path: "query.cursor", message: "is not a cursor of this list (use nextCursor as returned, with the same sort)" }]);
}

/** Decodes a cursor of the list `tag` and checks its key with a schema; throws a 400 otherwise. */
export function decodeCursor<T>(text: string, tag: string, key: z.ZodType<T>): T {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw invalid();
  let tuple: unknown;
  try {
    tuple = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(tuple) || tuple[0] !== tag) throw invalid();
  const parsed = key.safeParse(tuple.slice(1));
  if (!parsed.success) throw invalid();
  return parsed.data;
}
