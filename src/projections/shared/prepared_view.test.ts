import { randomBytes } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { GZIP_THRESHOLD, prepareView, strongEtag } from "./prepared_view.ts";

describe("prepared views", () => {
  it("prepares the JSON bytes, their etag, and a gzip only over the threshold", () => {
    const small = prepareView({ a: 1, b: "ü" });
    expect(small.view.toString("utf8")).toBe('{"a":1,"b":"ü"}');
    expect(small.view_gz).toBeNull();
    expect(small.etag).toBe(strongEtag(small.view));
    const large = prepareView({ text: "x".repeat(GZIP_THRESHOLD) });
    expect(large.view.length).toBeGreaterThan(GZIP_THRESHOLD);
    expect(gunzipSync(large.view_gz!).equals(large.view)).toBe(true);
    // Deterministic: the same value, the same bytes.
    expect(prepareView({ text: "x".repeat(GZIP_THRESHOLD) }).view_gz!.equals(large.view_gz!)).toBe(true);
  });

  it("keeps no oversized zlib output buffer behind a gzip, and compresses what does not compress", () => {
    const large = prepareView({ text: "x".repeat(3 * GZIP_THRESHOLD) });
    // zlib's default output chunk is 16 KiB; the gzip was a slice of it, holding all of it.
    expect(large.view_gz!.buffer.byteLength).toBeLessThan(16 * 1024);
    // Base64 of random bytes: gzip saves little, and the output may come near the input's size.
    const noisy = prepareView({ text: randomBytes(12_000).toString("base64") });
    expect(gunzipSync(noisy.view_gz!).equals(noisy.view)).toBe(true);
  });
});
