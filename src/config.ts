/**
 * Environment → typed configuration. The only module that reads process.env.
 * A bad value stops start-up with one clear line naming the variable.
 */
import os from "node:os";
import { z } from "zod";

export type Scope = "commands" | "operator";

export interface ApiToken {
  token: string;
  scopes: Scope[];
  /** Made at start because API_TOKENS was unset: a new one each run (see clientOf). */
  generated?: boolean;
}

export interface Config {
  port: number;
  host: string;
  /** null: start an embedded PostgreSQL with its data under `dataDir`. */
  databaseUrl: string | null;
  /** How long start-up waits for the PostgreSQL at `databaseUrl` to accept connections (0: fail at once). */
  databaseWaitMs: number;
  /** Most connections of the service's main PostgreSQL pool (commands, queries, status). */
  databasePoolMax: number;
  /** "auto": use redis://127.0.0.1:6379 when it answers; "off": no Redis views; else a URL. */
  redisUrl: string;
  eventstoreUrl: string | null;
  /** null: generate one random token with both scopes at start and log it once. */
  apiTokens: ApiToken[] | null;
  projectionWorkers: number;
  consistencyWaitMs: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  dataDir: string;
  /** Requests per second per client on command routes (token bucket); 0 disables. */
  commandRateLimit: number;
  /** MiB of prepared views kept in process memory, kept coherent by Redis tracking; 0 disables. */
  viewCacheMb: number;
  /** Prefix of every Redis key (deployments sharing one Redis keep apart); "" by default. */
  redisKeyPrefix: string;
}

const TOKEN_PATTERN = /^[\x21-\x7e]{1,256}$/;

const tokenList = z.string().transform((text, ctx): ApiToken[] => {
  const tokens: ApiToken[] = [];
  for (const entry of text.split(",").map((part) => part.trim()).filter(Boolean)) {
    const colon = entry.lastIndexOf(":");
    const token = colon > 0 ? entry.slice(0, colon) : "";
    const scopes = colon > 0 ? entry.slice(colon + 1).split("+") : [];
    if (!TOKEN_PATTERN.test(token) || token.includes(",")) {
      ctx.addIssue({ code: "custom", message: "each entry must be token:scope[+scope]" });
      return z.NEVER;
    }
    if (scopes.length === 0 || !scopes.every((scope) => scope === "commands" || scope === "operator")) {
      ctx.addIssue({ code: "custom", message: `scopes must be commands and/or operator (entry for token #${tokens.length + 1})` });
      return z.NEVER;
    }
    if (tokens.some((known) => known.token === token)) {
      ctx.addIssue({ code: "custom", message: `token #${tokens.length + 1} is listed twice: give it one entry with every scope it has (token:commands+operator)` });
      return z.NEVER;
    }
    tokens.push({ token, scopes: [...new Set(scopes as Scope[])] });
  }
  if (tokens.length === 0) {
    ctx.addIssue({ code: "custom", message: "no tokens given" });
    return z.NEVER;
  }
  return tokens;
});

const intIn = (min: number, max: number) =>
  z.string().regex(/^\d+$/, `must be a whole number from ${min} to ${max}`).transform(Number).pipe(z.number().int().min(min).max(max));

const envSchema = z.object({
  PORT: intIn(0, 65535).default(3000),
  HOST: z.string().min(1).default("127.0.0.1"),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL").optional(),
  DATABASE_WAIT_MS: intIn(0, 600_000).default(30_000),
  DATABASE_POOL_MAX: intIn(2, 1000).default(30),
  REDIS_URL: z
    .string()
    .refine((value) => value === "off" || /^rediss?:\/\//.test(value), "must be a redis:// URL or off")
    .optional(),
  EVENTSTORE_URL: z.string().regex(/^(esdb|esdb\+discover|kurrentdb|kurrent|kdb)(\+discover)?:\/\//, "must be an esdb:// connection string").optional(),
  API_TOKENS: tokenList.optional(),
  PROJECTION_WORKERS: intIn(1, 64).optional(),
  CONSISTENCY_WAIT_MS: intIn(0, 60000).default(2000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  DATA_DIR: z.string().min(1).default(".data"),
  COMMAND_RATE_LIMIT: intIn(0, 1_000_000).default(0),
  VIEW_CACHE_MB: intIn(0, 65536).default(64),
  REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, "must be 1..64 of A-Z a-z 0-9 . _ : -").optional(),
});

/** A configuration value that failed validation; the message is one line naming the variable. */
export class ConfigError extends Error {}

/** Parses the environment into a Config; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ""));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? "environment");
    throw new ConfigError(`Invalid configuration: ${name} ${issue.message}`);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL ?? null,
    databaseWaitMs: e.DATABASE_WAIT_MS,
    databasePoolMax: e.DATABASE_POOL_MAX,
    redisUrl: e.REDIS_URL ?? "auto",
    eventstoreUrl: e.EVENTSTORE_URL ?? null,
    apiTokens: e.API_TOKENS ?? null,
    projectionWorkers: e.PROJECTION_WORKERS ?? Math.max(1, os.availableParallelism()),
    consistencyWaitMs: e.CONSISTENCY_WAIT_MS,
    logLevel: e.LOG_LEVEL,
    dataDir: e.DATA_DIR,
    commandRateLimit: e.COMMAND_RATE_LIMIT,
    viewCacheMb: e.VIEW_CACHE_MB,
    redisKeyPrefix: e.REDIS_KEY_PREFIX ?? "",
  };
}
