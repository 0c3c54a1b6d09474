/**
 * Per-client rate limiting with token buckets: `rate` requests per second, bursts of about
 * twice that. A client is its bearer token when the token is known, else its remote
 * address. Memory stays bounded: buckets live in a Map kept in least-recently-used order,
 * idle buckets that have refilled completely are evicted (a full bucket is the same as no
 * bucket), and beyond `maxClients` the least recently used one goes.
 */
import { createHash } from "node:crypto";
import type { Middleware } from "koa";
import { AppError } from "../shared/errors.ts";

/**
 * 429: the client sent more than its rate allows. The contract's closed list of problem
 * types has no rate-limit entry; `unavailable` (retry later, with Retry-After) is closest.
 */
export class TooManyRequestsError extends AppError {
  readonly headers: Record<string, string>;
  constructor(retryAfterSeconds: number) {
    super({ status: 429, type: "unavailable", title: "Too many requests", detail: `Rate limit exceeded; retry after ${retryAfterSeconds} s` });
    this.headers = { "Retry-After": String(retryAfterSeconds) };
  }
}

export interface RateLimiterOptions {
  /** Requests per second per client; must be > 0. */
  rate: number;
  /** Bucket size (default: 2 × rate, at least 1). */
  burst?: number;
  /** Most clients tracked at once (default 100,000); the least recently seen goes first. */
  maxClients?: number;
  /** Monotonic milliseconds (default performance.now); tests pass a fake. */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets keyed by client; `take` spends one token or says how long to wait. */
export class RateLimiter {
  #rate: number;
  #burst: number;
  #maxClients: number;
  #now: () => number;
  #buckets = new Map<string, Bucket>();

  constructor(options: RateLimiterOptions) {
    if (!(options.rate > 0)) throw new RangeError("rate must be > 0");
    this.#rate = options.rate;
    this.#burst = Math.max(1, options.burst ?? Math.ceil(2 * options.rate));
    this.#maxClients = options.maxClients ?? 100_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Clients currently tracked (for tests and metrics). */
  get size(): number {
    return this.#buckets.size;
  }

  /** Spends one token of `client`: 0 when allowed, else the seconds (≥ 1) until a token is back. */
  take(client: string): number {
    const now = this.#now();
    this.#evictIdle(now);
    const bucket = this.#buckets.get(client) ?? { tokens: this.#burst, at: now };
    this.#buckets.delete(client);
    bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#rate);
    bucket.at = now;
    this.#buckets.set(client, bucket);
    if (this.#buckets.size > this.#maxClients) this.#buckets.delete(this.#buckets.keys().next().value!);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.#rate));
  }

  /** Drops the least recently used buckets that have refilled completely (a few per call). */
  #evictIdle(now: number): void {
    const fullAfterMs = (this.#burst / this.#rate) * 1000;
    let budget = 8;
    for (const [client, bucket] of this.#buckets) {
      if (budget-- === 0 || now - bucket.at < fullAfterMs) return;
      this.#buckets.delete(client);
    }
  }
}

function hash(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("base64url");
}

/**
 * Middleware answering 429 (problem+json, Retry-After) once a client exceeds its rate.
 * `knownToken` returns the bearer token of a request when it names a configured token; the
 * bucket key is then a hash of it (the token itself is never kept), else the remote address.
 */
export function rateLimit(limiter: RateLimiter, knownToken: (authorization: string) => string | null): Middleware {
  return async (ctx, next) => {
    const token = knownToken(ctx.get("Authorization"));
    const client = token === null ? `ip:${ctx.ip}` : `token:${hash(token)}`;
    const wait = limiter.take(client);
    if (wait > 0) throw new TooManyRequestsError(wait);
    await next();
  };
}
