import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { deferringGzip, GzipBatch, gzipView } from "./gzip_batch.ts";
import { prepareView } from "./prepared_view.ts";

const bigValue = (i: number) => ({ i, text: `${i} `.repeat(400), noise: randomBytes(300 + i).toString("base64") });

describe("gzip batches", () => {
  it("defers prepared views' gzips and swaps each placeholder for the gzip prepareView makes itself", async () => {
    for (const count of [3, 40]) {
      // 3: made at once, here; 40: in the helper thread.
      const values = Array.from({ length: count }, (_, i) => bigValue(i));
      const batch = new GzipBatch();
      const prepared = deferringGzip(batch, () => values.map((value) => prepareView(value)));
      expect(batch.size).toBe(count);
      expect(prepared.every((view) => view.view_gz !== null && view.view_gz.length === 0)).toBe(true);
      await batch.run();
      prepared.forEach((view, i) => {
        const direct = prepareView(values[i]);
        expect(view.view.equals(direct.view)).toBe(true);
        expect(view.etag).toBe(direct.etag);
        expect((batch.resolve(view.view_gz) as Buffer).equals(direct.view_gz!)).toBe(true);
      });
    }
  });

  it("answers anything but its placeholders as they are, and defers nothing outside deferringGzip", async () => {
    const batch = new GzipBatch();
    const value = bigValue(1);
    const placeholder = deferringGzip(batch, () => prepareView(value).view_gz!);
    const other = Buffer.alloc(0);
    await batch.run();
    expect(batch.resolve(other)).toBe(other);
    expect(batch.resolve("text")).toBe("text");
    expect(batch.resolve(null)).toBe(null);
    expect((batch.resolve(placeholder) as Buffer).equals(gzipView(prepareView(value).view))).toBe(true);
    // Outside deferringGzip the gzip is made at once.
    expect(prepareView(bigValue(2)).view_gz!.length).toBeGreaterThan(0);
    expect(() => batch.defer(Buffer.from("late"))).toThrow();
  });
});
