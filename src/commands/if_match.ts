/**
 * `If-Match: "<version>"`: an optimistic check of the aggregate's version before a command
 * runs. As RFC 9110 13.1.1 has it: a list matches when any of its tags does, `*` matches any
 * existing aggregate, and the comparison is strong: a weak tag (`W/"3"`) never matches, nor
 * does `"03"` (the ETag of version 3 is `"3"`), nor any other well-formed tag that is not a
 * version (`""`, `"abc"`): those answer 412 like a stale version. A bare `3` is taken as
 * `"3"`. A value that is not an entity-tag at all (`abc`, `"3`) is a 400.
 */
import { ValidationError } from "../shared/errors.ts";

/**
 * One element of an If-Match list: an entity-tag (RFC 9110 8.8.3: optional `W/`, then any
 * etagc between quotes, commas included) or bare digits (`3`, `W/3`), then optional whitespace and the
 * comma that ends it (or the end). `y`: each match starts where the last ended.
 */
const ELEMENT = /[ \t]*(W\/)?(?:"([\x21\x23-\x7e\x80-\xff]*)"|(\d{1,15}))[ \t]*(?:,|$)/y;
/** Empty list elements (RFC 9110 5.6.1 asks recipients to ignore them). */
const EMPTY = /[ \t]*,/y;
const VERSION = /^\d{1,15}$/;

function malformed(): ValidationError {
  return new ValidationError([{ path: "headers.If-Match", message: 'must be an entity-tag such as "3" (or a list of them)' }]);
}

/**
 * Parses an If-Match header into the versions it accepts (an empty list: none, as for only
 * weak tags or tags that are not versions); null when absent or `*`; 400 when malformed.
 */
export function parseIfMatch(header: string): readonly number[] | null {
  const value = header.trim();
  if (value === "" || value === "*") return null;
  const versions: number[] = [];
  let at = 0;
  while (at < value.length) {
    EMPTY.lastIndex = at;
    if (EMPTY.test(value)) {
      at = EMPTY.lastIndex;
      continue;
    }
    ELEMENT.lastIndex = at;
    const match = ELEMENT.exec(value);
    if (match === null) throw malformed();
    at = ELEMENT.lastIndex;
    const digits = match[2] ?? match[3]!;
    if (match[1] === undefined && VERSION.test(digits) && String(Number(digits)) === digits) versions.push(Number(digits));
  }
  return versions;
}

/** True when the aggregate's version satisfies If-Match (absent or `*`: always). */
export function ifMatchAccepts(ifMatch: readonly number[] | null, version: number): boolean {
  return ifMatch === null || ifMatch.includes(version);
}
