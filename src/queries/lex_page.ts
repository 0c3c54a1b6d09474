/**
 * One keyset page of a list served from a lex-ordered Redis set (src/shared/lex_order.ts):
 * the members after the cursor and the values they point at, in one script call. Null
 * when Redis is absent, not ready, failing, or does not vouch for its views (sentinel not
 * "1", a value missing): the caller asks PostgreSQL.
 */
import type { Redis } from "ioredis";
import { redisScript, tryScript } from "./redis_script.ts";

/**
 * KEYS[1]: the projection version's views sentinel (unless "1", views complete, the script
 * answers false). KEYS[2]: the set. KEYS[3], when given: a hash of the values by member;
 * otherwise a value is the key ARGV[3] .. <the member's id, after its "|">. ARGV: the
 * exclusive start ("-" or "(" .. member), the count, the value key prefix (with the client's
 * key prefix). Answers { member1, value1, member2, value2, … }, or false when a value is missing.
 */
const SCRIPT = redisScript(`
if redis.call('GET', KEYS[1]) ~= '1' then return false end
local members = redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], '+', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, member in ipairs(members) do
  local value
  if KEYS[3] then
    value = redis.call('HGET', KEYS[3], member)
  else
    value = redis.call('GET', ARGV[3] .. string.sub(member, string.find(member, '|', 1, true) + 1))
  end
  if not value then return false end
  out[#out + 1] = member
  out[#out + 1] = value
end
return out
`);

export interface LexPageLookup {
  redis: Redis | null;
  /** The projection version's views sentinel key. */
  sentinel: string;
  set: string;
  /** The member the page starts after; null: from the start. */
  after: string | null;
  count: number;
  /** Where a member's value is: the key of this prefix (without the client's key prefix) and the member's id, or a hash keyed by member. */
  values: { prefix: string } | { hash: string };
}

/** [member, value] pairs of the page, or null (see the module comment). */
export async function readLexPage(lookup: LexPageLookup): Promise<Array<{ member: string; value: Buffer }> | null> {
  const { redis, values } = lookup;
  const keys = "hash" in values ? [lookup.sentinel, lookup.set, values.hash] : [lookup.sentinel, lookup.set];
  const reply = (await tryScript(redis, SCRIPT, keys, [
    lookup.after === null ? "-" : `(${lookup.after}`,
    lookup.count,
    "prefix" in values ? `${redis?.options.keyPrefix ?? ""}${values.prefix}` : "",
  ])) as Buffer[] | null;
  if (!Array.isArray(reply)) return null;
  const page: Array<{ member: string; value: Buffer }> = [];
  for (let i = 0; i + 1 < reply.length; i += 2) page.push({ member: reply[i]!.toString("latin1"), value: reply[i + 1]! });
  return page;
}
