import { describe, expect, it } from "vitest";
import { complementHex, integerKey, integerOfKey, lexMember, parseLexMember } from "./lex_order.ts";
import { cursorOfMember, memberOfCursor, type ListSort } from "./product_list_keys.ts";

const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

describe("lex-ordered members", () => {
  it("orders integer keys as the integers, ascending or descending, and reads them back", () => {
    const values = [-(2 ** 53 - 1), -1_000_000, -1, 0, 1, 9, 10, 99, 100, 1_700_000_000_000, 2 ** 53 - 1];
    for (const descending of [false, true]) {
      const keys = values.map((value) => integerKey(value, descending));
      const sorted = [...keys].sort(byteOrder);
      expect(sorted).toEqual(descending ? [...keys].reverse() : keys);
      expect(keys.map((key) => integerOfKey(key, descending))).toEqual(values);
    }
    expect(() => integerKey(2 ** 53, false)).toThrow(RangeError);
  });

  it("gives descending keys of non-negative integers (no bigint) exactly as the bigint form", () => {
    const reference = (value: number): string => (2n ** 53n - BigInt(value)).toString().padStart(17, "0");
    const values = [0, 1, 2 ** 31, 2 ** 32 + 1, 1_796_532_046_029, 2 ** 53 - 2, 2 ** 53 - 1];
    for (let i = 0; i < 1000; i++) values.push(Math.floor(Math.random() * 2 ** 53));
    for (const value of values) expect(integerKey(value, true)).toBe(reference(value));
  });

  it("complements only lowercase hex digits, character for character", () => {
    expect(complementHex("0123456789abcdef-ABC|z")).toBe("fedcba9876543210-ABC|z");
    expect(complementHex("")).toBe("");
  });

  it("orders members by key, then id ascending, or descending with complemented ids", () => {
    const ids = ["00000000-0000-4000-8000-000000000001", "0f000000-0000-4000-8000-000000000000", "ff000000-0000-4000-8000-000000000000"];
    const key = integerKey(5, false);
    expect(ids.map((id) => lexMember(key, id)).sort(byteOrder).map((member) => parseLexMember(member).id)).toEqual(ids);
    expect(ids.map((id) => lexMember(key, id, true)).sort(byteOrder).map((member) => parseLexMember(member, true).id)).toEqual([...ids].reverse());
    expect(complementHex(complementHex(ids[1]!))).toBe(ids[1]);
    // The key decides before the id does.
    expect(byteOrder(lexMember(integerKey(4, false), ids[2]!), lexMember(key, ids[0]!))).toBe(-1);
  });

  it("maps list cursors to members and back for every sort", () => {
    const id = "12345678-9abc-4def-8123-456789abcdef";
    const cursors: Record<ListSort, [string | number, string]> = {
      newest: ["2026-11-21T10:00:00.123Z", id],
      price_asc: [1999, id],
      price_desc: [0, id],
      best_selling: [42, id],
    };
    for (const [sort, cursor] of Object.entries(cursors) as Array<[ListSort, [string | number, string]]>) {
      expect(cursorOfMember(sort, memberOfCursor(sort, cursor))).toEqual(cursor);
    }
  });
});
