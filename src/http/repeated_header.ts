/**
 * Headers that must come once. Node folds repeats away: it keeps the first Host or Content-Type
 * and joins other unknown headers with ", " (two Idempotency-Key lines become one key), so a
 * repeat is only seen in the raw headers. Read without allocating (the check is on every request).
 */
import type { IncomingMessage } from "node:http";

/** True when the request carries the header (lower-case name) on more than one line. */
export function sentMoreThanOnce(req: IncomingMessage, name: string): boolean {
  const raw = req.rawHeaders;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === name.length && raw[i]!.toLowerCase() === name && ++seen > 1) return true;
  return false;
}
