/**
 * `If-Match: "<version>"` (also `<version>` and `W/"<version>"`): an optimistic check of
 * the aggregate's version before a command runs.
 */
import { ValidationError } from "../shared/errors.ts";

const IF_MATCH = /^(?:W\/)?(?:"(\d{1,15})"|(\d{1,15}))$/;

/** Parses an If-Match header into a version; null when absent or `*`; 400 when malformed. */
export function parseIfMatch(header: string): number | null {
  const value = header.trim();
  if (value === "" || value === "*") return null;
  const match = IF_MATCH.exec(value);
  const digits = match?.[1] ?? match?.[2];
  if (digits === undefined) {
    throw new ValidationError([{ path: "headers.If-Match", message: 'must be a version such as "3"' }]);
  }
  return Number(digits);
}
