/**
 * Schemas every command route shares: ids in URLs and bodies, and the success body.
 */
import { z } from "zod";

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
