/**
 * `If-Match: "<version>"`: an optimistic check of the aggregate's version before a command
 * runs. As RFC 9110 13.1.1 has it: a list matches when any of its tags does, `*` matches any
 * existing aggregate, and the comparison is strong: a weak tag (`W/"3"`) never matches, nor
 * does `"03"` (the ETag of version 3 is `"3"`). A bare `3` is taken as `"3"`. A tag that is
 * not a version is a 400 (a typo, not a precondition).
 */
import { ValidationError } from "../shared/errors.ts";

const TAG = /^(W\/)?(?:"(\d{1,15})"|(\d{1,15}))$/;

/**
 * Parses an If-Match header into the versions it accepts (an empty list: none, as for only
 * weak tags); null when absent or `*`; 400 when malformed.
 */
export function parseIfMatch(header: string): readonly number[] | null {
  const value = header.trim();
  if (value === "" || value === "*") return null;
  const versions: number[] = [];
  // Empty elements of a list are ignored (RFC 9110 5.6.1).
  for (const part of value.split(",").map((element) => element.trim()).filter((element) => element !== "")) {
    const match = TAG.exec(part);
    const digits = match?.[2] ?? match?.[3];
    if (match === null || digits === undefined) {
      throw new ValidationError([{ path: "headers.If-Match", message: 'must be a version such as "3" (or a list of them)' }]);
    }
    if (match[1] === undefined && String(Number(digits)) === digits) versions.push(Number(digits));
  }
  return versions;
}

/** True when the aggregate's version satisfies If-Match (absent or `*`: always). */
export function ifMatchAccepts(ifMatch: readonly number[] | null, version: number): boolean {
  return ifMatch === null || ifMatch.includes(version);
}
