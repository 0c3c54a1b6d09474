import { getEventListeners } from "node:events";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { freePort } from "../../db/embedded.ts";
import { createPool } from "../../db/pool.ts";
import { ActiveVersionTable, ProgressTracker } from "./progress.ts";

describe("the progress listener", () => {
  it("keeps one abort listener on its signal however often it reconnects (PostgreSQL unreachable)", { timeout: 15_000 }, async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/postgres`;
    const pool = createPool({ connectionString: url, max: 1 });
    const stop = new AbortController();
    const tracker = new ProgressTracker(new ActiveVersionTable(new Map()));
    const listening = tracker.listen({ connectionString: url, pool, signal: stop.signal, logger: pino({ level: "silent" }) });
    try {
      // Three reconnects (a failed connect, then a second's sleep, each).
      await new Promise((resolve) => setTimeout(resolve, 3200));
      expect(getEventListeners(stop.signal, "abort").length).toBeLessThanOrEqual(2);
    } finally {
      stop.abort();
      await listening;
      await pool.end();
    }
    expect(getEventListeners(stop.signal, "abort").length).toBe(0);
  });
});
