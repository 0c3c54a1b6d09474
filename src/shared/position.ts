/**
 * Global positions in the event log. A position is a pair of unsigned 64-bit integers
 * compared lexicographically: for PostgreSQL (transaction id, sequence number), for
 * EventStoreDB (commit, prepare). On the wire it is an opaque string "<commit>-<prepare>".
 */
export interface Position {
  readonly commit: bigint;
  readonly prepare: bigint;
}

/** The position before every event. */
export const START: Position = Object.freeze({ commit: 0n, prepare: 0n });

const MAX_U64 = (1n << 64n) - 1n;
const POSITION_PATTERN = /^(\d{1,20})-(\d{1,20})$/;

/** Encodes a position as its opaque wire string; bigint-safe. */
export function encodePosition(position: Position): string {
  return `${position.commit}-${position.prepare}`;
}

/** Parses a wire string into a position, or returns null when it is not one. */
export function parsePosition(text: string): Position | null {
  const match = POSITION_PATTERN.exec(text);
  if (!match) return null;
  const commit = BigInt(match[1]!);
  const prepare = BigInt(match[2]!);
  if (commit > MAX_U64 || prepare > MAX_U64) return null;
  return { commit, prepare };
}

/** Orders two positions: negative when a < b, zero when equal, positive when a > b. */
export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/** The later of two positions. */
export function maxPosition(a: Position, b: Position): Position {
  return comparePositions(a, b) >= 0 ? a : b;
}
