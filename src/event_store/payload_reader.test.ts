import fc from "fast-check";
import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { decodeFieldAt, decodePayloadAt, encodePayload } from "./codec.ts";
import { NOT_HANDLED, PayloadReader, STRING_CACHE_MAX_BYTES } from "./payload_reader.ts";

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

/** A decoder's answer or the message it threw. */
function outcome(decode: () => unknown): { value: unknown } | { error: string } {
  try {
    return { value: decode() };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** JSON-like values as event payloads hold them (integers of every msgpack width, doubles, unicode). */
const payloadValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }),
    fc.double({ noNaN: true }),
    fc.string({ unit: "grapheme", maxLength: 80 }),
    fc.string({ unit: "binary", maxLength: 300 }),
    fc.array(tie("value"), { maxLength: 20 }),
    fc.dictionary(fc.string({ maxLength: 40 }), tie("value"), { maxKeys: 20 }),
  ),
})).value;

describe("PayloadReader", () => {
  it("answers what msgpackr answers for any payload encodePayload writes, at any offset of a shared buffer", () => {
    const reader = new PayloadReader();
    fc.assert(
      fc.property(fc.array(fc.dictionary(fc.string({ maxLength: 20 }), payloadValue, { maxKeys: 12 }), { minLength: 1, maxLength: 8 }), (payloads) => {
        const parts = payloads.map((payload) => encodePayload(payload));
        const bytes = Buffer.concat(parts);
        let start = 0;
        for (const part of parts) {
          const end = start + part.length;
          const value = reader.read(bytes, start, end);
          expect(value).not.toBe(NOT_HANDLED);
          expect(value).toStrictEqual(packr.unpack(bytes, { start, end }));
          start = end;
        }
      }),
      { numRuns: 300 },
    );
  });

  it("tells a cached string from another of the same length that shares the bytes it hashes", () => {
    const reader = new PayloadReader();
    // 40 bytes: they differ only at positions the slot's hash does not read.
    const a = "a".repeat(40);
    const b = `${"a".repeat(5)}b${"a".repeat(34)}`;
    const c = `${"a".repeat(38)}c${"a"}`;
    for (const text of [a, b, a, c, b, a]) {
      const bytes = encodePayload({ text });
      expect(reader.read(bytes, 0, bytes.length)).toStrictEqual({ text });
    }
  });

  it("decodes the same payload again the same, with strings from the cache and past its limit", () => {
    const reader = new PayloadReader();
    const short = "sku-000123";
    const long = "x".repeat(STRING_CACHE_MAX_BYTES + 1);
    const bytes = encodePayload({ short, long });
    const first = reader.read(bytes, 0, bytes.length) as Record<string, string>;
    const second = reader.read(bytes, 0, bytes.length) as Record<string, string>;
    expect(second).toStrictEqual(first);
    expect(Object.keys(second)).toStrictEqual(["short", "long"]);
  });

  it("leaves to msgpackr what it does not decode: extensions, binary, float32, 64-bit integers, non-string keys, trailing bytes", () => {
    const reader = new PayloadReader();
    const extended = new Packr({ useRecords: false, moreTypes: true, useFloat32: 1 });
    const cases: Uint8Array[] = [
      extended.pack({ at: new Date(0) }),
      extended.pack({ blob: Buffer.from([1, 2, 3]) }),
      extended.pack({ ratio: 1.5 }),
      Buffer.from([0x81, 0xa1, 0x6e, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0]),
      Buffer.from([0x81, 0x01, 0x02]),
      Buffer.concat([encodePayload({ a: 1 }), Buffer.from([0xc0])]),
    ];
    for (const bytes of cases) {
      expect(reader.read(bytes, 0, bytes.length)).toBe(NOT_HANDLED);
      expect(outcome(() => decodePayloadAt(bytes, 0, bytes.length))).toStrictEqual(outcome(() => packr.unpack(bytes)));
    }
  });

  it("does not decode a truncated payload (msgpackr's error stands)", () => {
    const reader = new PayloadReader();
    const bytes = encodePayload({ orderId: "8c1f0d1e-4a0b-4c1e-9d5e-2b7f3a9c0e11", lines: [{ quantity: 3 }] });
    for (let end = 1; end < bytes.length; end++) {
      expect(reader.read(bytes, 0, end)).toBe(NOT_HANDLED);
      const decoded = outcome(() => decodePayloadAt(bytes, 0, end));
      expect("error" in decoded).toBe(true);
      expect(decoded).toStrictEqual(outcome(() => packr.unpack(bytes, { start: 0, end })));
    }
  });

  it("reads one field of a map as msgpackr's whole decode has it, present or not, at any offset of a shared buffer", () => {
    const reader = new PayloadReader();
    fc.assert(
      fc.property(
        fc.array(fc.dictionary(fc.string({ maxLength: 20 }), payloadValue, { maxKeys: 12 }), { minLength: 1, maxLength: 6 }),
        fc.string({ maxLength: 20 }),
        (payloads, absent) => {
          const parts = payloads.map((payload) => encodePayload(payload));
          const bytes = Buffer.concat(parts);
          let start = 0;
          for (const [i, part] of parts.entries()) {
            const end = start + part.length;
            const whole = packr.unpack(bytes, { start, end }) as Record<string, unknown>;
            for (const key of [...Object.keys(payloads[i]!), absent]) {
              const expected = Object.hasOwn(whole, key) ? whole[key] : undefined;
              const value = reader.field(bytes, start, end, key);
              expect(value).not.toBe(NOT_HANDLED);
              expect(value).toStrictEqual(expected);
              expect(decodeFieldAt(bytes, start, end, key)).toStrictEqual(expected);
            }
            start = end;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("leaves a field to msgpackr where it does not decode the map (the same value or the same error)", () => {
    const reader = new PayloadReader();
    const extended = new Packr({ useRecords: false, moreTypes: true, useFloat32: 1 });
    const cases: Uint8Array[] = [
      extended.pack({ at: new Date(0), occurredAt: "2026-01-01T00:00:00.000Z" }),
      extended.pack({ occurredAt: "x", blob: Buffer.from([1, 2, 3]) }),
      Buffer.from([0x82, 0xa1, 0x6e, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0, 0xa1, 0x61, 0x01]),
      Buffer.from([0x81, 0x01, 0x02]),
      Buffer.concat([encodePayload({ a: 1 }), Buffer.from([0xc0])]),
      packr.pack([1, 2]),
      encodePayload({ occurredAt: "2026-01-01T00:00:00.000Z", correlationId: "c" }).subarray(0, 20),
    ];
    for (const bytes of cases) {
      expect(reader.field(bytes, 0, bytes.length, "a")).toBe(NOT_HANDLED);
      for (const key of ["a", "n", "occurredAt", "blob"]) {
        const expected = outcome(() => {
          const whole = packr.unpack(bytes) as unknown;
          return whole !== null && typeof whole === "object" ? (whole as Record<string, unknown>)[key] : undefined;
        });
        expect(outcome(() => decodeFieldAt(bytes, 0, bytes.length, key))).toStrictEqual(expected);
      }
    }
  });

  it("keeps __proto__ from becoming a prototype, as msgpackr does", () => {
    const bytes = Buffer.from([0x81, 0xa9, ...Buffer.from("__proto__"), 0xc3]);
    const value = new PayloadReader().read(bytes, 0, bytes.length) as Record<string, unknown>;
    expect(value).toStrictEqual(packr.unpack(bytes));
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(new PayloadReader().field(bytes, 0, bytes.length, "__proto_")).toBe(true);
    expect(new PayloadReader().field(bytes, 0, bytes.length, "__proto__")).toBeUndefined();
  });
});
