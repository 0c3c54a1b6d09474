import { describe, expect, it } from "vitest";
import { chooseEncoding, encodedEtag, etagMatches, preparedReply } from "./conditional.ts";

describe("content codings", () => {
  it("follow the client's qualities; at equal quality a precomputed gzip, else br", () => {
    expect(chooseEncoding("gzip, br;q=0.1", false)).toBe("gzip");
    expect(chooseEncoding("gzip;q=0.2, br;q=0.9", true)).toBe("br");
    expect(chooseEncoding("gzip, deflate, br", true)).toBe("gzip");
    expect(chooseEncoding("gzip, deflate, br", false)).toBe("br");
    expect(chooseEncoding("*;q=0.5, gzip;q=0.6", false)).toBe("gzip");
    expect(chooseEncoding("gzip;q=0, br;q=0", true)).toBeNull();
    expect(chooseEncoding("identity", true)).toBeNull();
    expect(chooseEncoding("*", false)).toBe("br");
  });
});

describe("ETags per representation", () => {
  const body = Buffer.from(JSON.stringify({ text: "x".repeat(2000) }));
  const answer = { etag: '"abc"', body };

  it("name the coding of compressed bytes; If-None-Match matches any coding of the same bytes", () => {
    expect(encodedEtag('"abc"', null)).toBe('"abc"');
    expect(encodedEtag('"abc"', "gzip")).toBe('"abc-gzip"');
    expect(encodedEtag('W/"abc"', "br")).toBe('W/"abc-br"');
    for (const header of ['"abc"', '"abc-gzip"', 'W/"abc-br"', '"zzz", "abc-br"', "*"]) expect(etagMatches(header, '"abc"')).toBe(true);
    for (const header of ['"ab"', '"abc-deflate"', '"abc-gzip-gzip"', '"xabc"', ""]) expect(etagMatches(header, '"abc"')).toBe(false);
  });

  it("send the etag of the representation, on a 200 and on a 304", () => {
    expect(preparedReply({}, answer).etag).toBe('"abc"');
    expect(preparedReply({ "accept-encoding": "gzip" }, answer)).toMatchObject({ status: 200, encoding: "gzip", etag: '"abc-gzip"' });
    expect(preparedReply({ "accept-encoding": "br", "if-none-match": '"abc"' }, answer)).toEqual({ status: 304, etag: '"abc-br"' });
    // Small bodies are not compressed: one representation, one etag.
    expect(preparedReply({ "accept-encoding": "gzip" }, { etag: '"s"', body: Buffer.from("{}") }).etag).toBe('"s"');
  });
});
