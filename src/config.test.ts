import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";

describe("configuration", () => {
  it("defaults the view cache to 64 MiB and Redis keys to no prefix", () => {
    expect(loadConfig({})).toMatchObject({ viewCacheMb: 64, redisKeyPrefix: "" });
    expect(loadConfig({ VIEW_CACHE_MB: "0", REDIS_KEY_PREFIX: "shop-a:" })).toMatchObject({ viewCacheMb: 0, redisKeyPrefix: "shop-a:" });
  });

  it("defaults the PostgreSQL start-up wait to 30 s and the main pool to 30 connections", () => {
    expect(loadConfig({})).toMatchObject({ databaseWaitMs: 30_000, databasePoolMax: 30 });
    expect(loadConfig({ DATABASE_WAIT_MS: "0", DATABASE_POOL_MAX: "8" })).toMatchObject({ databaseWaitMs: 0, databasePoolMax: 8 });
    expect(() => loadConfig({ DATABASE_POOL_MAX: "1" })).toThrow(/^Invalid configuration: DATABASE_POOL_MAX /);
  });

  it("stops on a bad value with one line naming the variable", () => {
    expect(() => loadConfig({ REDIS_KEY_PREFIX: "has space" })).toThrow(ConfigError);
    expect(() => loadConfig({ REDIS_KEY_PREFIX: "has space" })).toThrow(/^Invalid configuration: REDIS_KEY_PREFIX /);
    expect(() => loadConfig({ VIEW_CACHE_MB: "-1" })).toThrow(/^Invalid configuration: VIEW_CACHE_MB must be a whole number from 0 to 65536/);
    expect(() => loadConfig({ API_TOKENS: "a:commands,a:operator" })).toThrow(/^Invalid configuration: API_TOKENS token #2 is listed twice/);
    expect(loadConfig({ API_TOKENS: "a:commands+operator,b:commands" }).apiTokens).toHaveLength(2);
  });
});
