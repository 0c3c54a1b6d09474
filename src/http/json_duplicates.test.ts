import { describe, expect, it } from "vitest";
import { duplicateKeyIssues } from "./json_duplicates.ts";

const paths = (text: string): string[] => {
  JSON.parse(text); // the scanner's precondition: valid JSON
  return duplicateKeyIssues(text).map((issue) => issue.path);
};

describe("duplicateKeyIssues", () => {
  it("names each key given twice in one object, by its dotted path, once however often it repeats", () => {
    expect(paths('{"priceCents":5,"priceCents":6}')).toEqual(["priceCents"]);
    expect(paths('{"a":1,"a":2,"a":3,"b":1,"b":2}')).toEqual(["a", "b"]);
    expect(paths('{"customerId":"x","lines":[{"productId":"p","quantity":1},{"productId":"q","quantity":1,"quantity":9}]}')).toEqual(["lines.1.quantity"]);
    expect(paths('{"a":{"b":[[{"c":1}],[{"c":1,"c":2}]]}}')).toEqual(["a.b.1.0.c"]);
    expect(duplicateKeyIssues('{"x":1,"x":2}')).toEqual([{ path: "x", message: "is given more than once" }]);
  });

  it("compares keys as JSON.parse reads them, escapes included", () => {
    expect(paths('{"a":1,"\\u0061":2}')).toEqual(["a"]);
    expect(paths('{"q\\"":1,"q\\u0022":2}')).toEqual(['q"']);
    expect(paths('{"a\\\\":1,"a":2}')).toEqual([]);
  });

  it("finds nothing in objects whose keys repeat only across objects, in strings or in arrays", () => {
    expect(paths('{"lines":[{"productId":"p","quantity":1},{"productId":"q","quantity":2}]}')).toEqual([]);
    expect(paths('{"a":"{\\"a\\":1,\\"a\\":2}","b":["a","a"],"c":{"a":1},"d":{"a":1}}')).toEqual([]);
    expect(paths(' { } ')).toEqual([]);
    expect(paths('[1,{"a":1},{"a":2}]')).toEqual([]);
    expect(paths('"just a string"')).toEqual([]);
    expect(paths('{"a":[],"b":{},"c":[{}],"d":null}')).toEqual([]);
  });
});
