/**
 * Schemas every command route shares: ids in URLs and bodies, and the success body.
 */
import { z } from "zod";

const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Free text that every store can hold: no NUL (PostgreSQL text and jsonb reject it, so a
 * read model could never take the event) and no unpaired surrogate (not encodable as
 * UTF-8; it would silently turn into U+FFFD).
 */
export function storableText(): z.ZodString {
  return z.string().refine((text) => !UNSTORABLE.test(text), "must not contain NUL characters or unpaired surrogates");
}

/** A UUID, normalized to lower case so one id names one stream. */
export const uuid = z.guid("must be a UUID").toLowerCase();

/** Route params of `/v1/<aggregate>/{id}/...`. */
export const idParams = z.strictObject({ id: uuid });

/** The success body of every command. */
export const commandResultSchema = z.strictObject({
  id: z.string(),
  version: z.number().int().describe("the stream's event count after the command"),
  position: z.string().describe("opaque read-your-writes token for X-Consistent-With"),
});
