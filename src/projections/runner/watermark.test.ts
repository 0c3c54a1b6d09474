import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parsePosition, type Position } from "../../shared/position.ts";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../../testing/db.ts";
import { MARK_SPACING_MS, PROGRESS_CHANNEL, readProgress, WatermarkWriter } from "./watermark.ts";

function position(text: string): Position {
  const parsed = parsePosition(text);
  if (!parsed) throw new Error(`bad position ${text}`);
  return parsed;
}

describe.skipIf(!databaseAvailable)(`the watermark writer${databaseAvailable ? "" : ` (${databaseSkipReason})`}`, () => {
  let db: TestDatabase;
  let listener: pg.Client;
  const notices: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    await db.pool.query("INSERT INTO projections (name, version) VALUES ('alpha', 1), ('beta', 1), ('gamma', 2)");
    listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    listener.on("notification", (message) => notices.push(message.payload ?? ""));
    await listener.query(`LISTEN ${PROGRESS_CHANNEL}`);
  });

  afterAll(async () => {
    await listener?.end().catch(() => undefined);
    await db?.drop();
  });

  async function noticesFor(count: number): Promise<string[]> {
    for (let i = 0; i < 200 && notices.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    return notices.splice(0);
  }

  it("writes the marks of several projections queued within its spacing in one statement, with a notice for each", async () => {
    const writer = new WatermarkWriter(db.pool);
    const query = vi.spyOn(db.pool, "query");
    try {
      await writer.write("alpha", 1, position("10-10"), 10);
      const calls = query.mock.calls.length;
      // Queued while the first write's spacing runs: one write for all three.
      const later = [
        writer.write("alpha", 1, position("12-12"), 12),
        writer.write("beta", 1, position("11-11"), 11),
        writer.write("gamma", 2, position("12-12")),
      ];
      // The same version again before that write: the later mark replaces the queued one.
      const replaced = writer.write("alpha", 1, position("13-13"), 13);
      expect(replaced).toBe(later[0]);
      await Promise.all(later);
      expect(query.mock.calls.length - calls).toBe(1);
    } finally {
      query.mockRestore();
    }
    expect(await readProgress(db.pool, "alpha", 1)).toEqual({ position: position("13-13"), consumed: 13 });
    expect(await readProgress(db.pool, "beta", 1)).toEqual({ position: position("11-11"), consumed: 11 });
    // No count given: the stored one stays.
    expect(await readProgress(db.pool, "gamma", 2)).toEqual({ position: position("12-12"), consumed: 0 });
    expect((await noticesFor(4)).sort()).toEqual(["alpha 1 10-10", "alpha 1 13-13", "beta 1 11-11", "gamma 2 12-12"]);
  });

  it("keeps MARK_SPACING_MS between two writes", async () => {
    const writer = new WatermarkWriter(db.pool);
    await writer.write("beta", 1, position("20-20"), 20);
    const written = performance.now();
    await writer.write("beta", 1, position("21-21"), 21);
    // A timer may fire up to a millisecond early.
    expect(performance.now() - written).toBeGreaterThanOrEqual(MARK_SPACING_MS - 1);
    expect(await readProgress(db.pool, "beta", 1)).toEqual({ position: position("21-21"), consumed: 21 });
    await noticesFor(2);
  });

  it("rejects every mark of a write that fails with other than a lost connection, and writes later marks again", async () => {
    const writer = new WatermarkWriter(db.pool);
    await db.pool.query("ALTER TABLE projections RENAME TO projections_away");
    let failed: PromiseSettledResult<void>[];
    try {
      failed = await Promise.allSettled([writer.write("alpha", 1, position("30-30"), 30), writer.write("beta", 1, position("30-30"), 30)]);
    } finally {
      await db.pool.query("ALTER TABLE projections_away RENAME TO projections");
    }
    expect(failed.map((result) => result.status)).toEqual(["rejected", "rejected"]);
    expect(String((failed[0] as PromiseRejectedResult).reason)).toMatch(/projections/);
    expect((await readProgress(db.pool, "alpha", 1)).position).toEqual(position("13-13"));
    await writer.write("alpha", 1, position("31-31"), 31);
    expect(await readProgress(db.pool, "alpha", 1)).toEqual({ position: position("31-31"), consumed: 31 });
  });
});
