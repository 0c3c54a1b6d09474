import { describe, expect, it } from "vitest";
import { itemsBody } from "./prepared.ts";

describe("itemsBody", () => {
  const item = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

  it("joins prepared items into the answer's JSON without parsing them", () => {
    const items = [item({ a: 1 }), item({ name: "Zoë ✓" }), item([1, 2])];
    const body = itemsBody(items, `,"nextCursor":${JSON.stringify("c/ü")}`);
    expect(JSON.parse(body.toString("utf8"))).toEqual({ items: [{ a: 1 }, { name: "Zoë ✓" }, [1, 2]], nextCursor: "c/ü" });
    expect(body.toString("utf8")).toBe(`{"items":[{"a":1},{"name":"Zoë ✓"},[1,2]],"nextCursor":"c/ü"}`);
  });

  it("answers an empty list and a single item exactly, with nothing left over in the buffer", () => {
    expect(itemsBody([], "").toString()).toBe('{"items":[]}');
    expect(itemsBody([item("x")], ',"nextCursor":null').toString()).toBe('{"items":["x"],"nextCursor":null}');
    const many = Array.from({ length: 500 }, (_, i) => item({ i }));
    const body = itemsBody(many, "");
    expect(body.length).toBe(Buffer.byteLength(JSON.stringify({ items: many.map((_, i) => ({ i })) })));
    expect(JSON.parse(body.toString()).items).toHaveLength(500);
  });
});
