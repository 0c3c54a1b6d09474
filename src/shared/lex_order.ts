/**
 * Members of lexicographically ordered Redis sorted sets (every score 0, read with
 * ZRANGEBYLEX), for keyset-paged lists served from Redis: a member is a fixed-width sort
 * key, "|", and a tie-break id, so byte order of members is exactly the list's order,
 * ascending or descending on either part. Integers are offset into 17 decimal digits
 * (exact for any safe integer); a descending part is stored complemented.
 */

const OFFSET = 2n ** 53n;
const WIDTH = 17;

/** The fixed-width key of an integer, ascending (`descending`: the complement, so larger values sort first). */
export function integerKey(value: number, descending: boolean): string {
  if (!Number.isSafeInteger(value)) throw new RangeError(`not a safe integer: ${value}`);
  // 2^53 - value is exact in a double for 0 <= value <= 2^53 (every order's timestamp): no bigint.
  if (descending && value >= 0) return String(2 ** 53 - value).padStart(WIDTH, "0");
  const shifted = descending ? OFFSET - BigInt(value) : OFFSET + BigInt(value);
  return shifted.toString().padStart(WIDTH, "0");
}

/** The integer an integerKey() holds. */
export function integerOfKey(key: string, descending: boolean): number {
  const shifted = BigInt(key);
  return Number(descending ? OFFSET - shifted : shifted - OFFSET);
}

const HEX = "0123456789abcdef";
/** Char code -> the char code of its complemented hex digit (lowercase hex digits only; 0: keep the character). */
const COMPLEMENT = new Uint16Array(128);
for (let digit = 0; digit < 16; digit++) COMPLEMENT[HEX.charCodeAt(digit)] = HEX.charCodeAt(15 - digit);

/** A lowercase hex id (a uuid) with every hex digit complemented: ascending order of the result is descending order of the id. */
export function complementHex(id: string): string {
  // Char codes into one array and one string (a += per character made a string per character).
  const codes = new Array<number>(id.length);
  for (let i = 0; i < id.length; i++) {
    const code = id.charCodeAt(i);
    codes[i] = (code < 128 ? COMPLEMENT[code] : 0) || code;
  }
  return String.fromCharCode(...codes);
}

/** The member for a sort key and an id (`idDescending`: ties by id descending). */
export function lexMember(sortKey: string, id: string, idDescending = false): string {
  return `${sortKey}|${idDescending ? complementHex(id) : id}`;
}

/** Splits a member into its sort key and id. */
export function parseLexMember(member: string, idDescending = false): { sortKey: string; id: string } {
  const bar = member.indexOf("|");
  const id = member.slice(bar + 1);
  return { sortKey: member.slice(0, bar), id: idDescending ? complementHex(id) : id };
}
