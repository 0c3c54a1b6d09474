/**
 * One keyset page of a list served from a lex-ordered Redis set (src/shared/lex_order.ts):
 * the members after the cursor and the values they point at, in one script call. Null
 * when Redis is absent, not ready, failing, or does not vouch for its views (sentinel not
 * "1", a value missing): the caller asks PostgreSQL.
 */
import type { Redis } from "ioredis";
import { LEX_PAGE_SCRIPT } from "../shared/lex_order.ts";
import { redisReadFailed, redisUsable } from "./redis_health.ts";
import { redisScript, runScript } from "./redis_script.ts";

const SCRIPT = redisScript(LEX_PAGE_SCRIPT);

export interface LexPageLookup {
  redis: Redis | null;
  /** The projection version's views sentinel key. */
  sentinel: string;
  set: string;
  /** The member the page starts after; null: from the start. */
  after: string | null;
  count: number;
  /** Where a member's value is: the key of this prefix (without the client's key prefix) and the member's id, or a field of a hash. */
  values: { prefix: string } | { hash: string };
  /** Ids stored complemented in members (ties by id descending). */
  idsComplemented: boolean;
}

/** [member, value] pairs of the page, or null (see the module comment). */
export async function readLexPage(lookup: LexPageLookup): Promise<Array<{ member: string; value: Buffer }> | null> {
  const redis = lookup.redis;
  if (!redisUsable(redis)) return null;
  try {
    const values = lookup.values;
    const keys = "hash" in values ? [lookup.sentinel, lookup.set, values.hash] : [lookup.sentinel, lookup.set];
    const reply = (await runScript(redis, SCRIPT, keys, [
      lookup.after === null ? "-" : `(${lookup.after}`,
      lookup.count,
      "prefix" in values ? `${redis.options.keyPrefix ?? ""}${values.prefix}` : "",
      lookup.idsComplemented ? "complement" : "plain",
    ])) as Buffer[] | null;
    if (!Array.isArray(reply)) return null;
    const page: Array<{ member: string; value: Buffer }> = [];
    for (let i = 0; i + 1 < reply.length; i += 2) page.push({ member: reply[i]!.toString("latin1"), value: reply[i + 1]! });
    return page;
  } catch (error) {
    redisReadFailed(redis, error);
    return null;
  }
}
