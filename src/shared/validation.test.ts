import { z } from "zod";
import { describe, expect, it } from "vitest";
import { toIssues } from "./validation.ts";

describe("validation issues", () => {
  const schema = z.strictObject({ priceCents: z.number().int().min(0).max(100_000_000), count: z.number().int(), lines: z.array(z.strictObject({ quantity: z.number().int().min(1) })) });
  const issuesOf = (input: unknown) => {
    const result = schema.safeParse(input);
    return result.success ? [] : toIssues(result.error);
  };

  it("give one issue per field out of range: the field's own range, not zod's safe-integer limit beside it", () => {
    expect(issuesOf({ priceCents: 9007199254740993, count: 1, lines: [] })).toEqual([{ path: "priceCents", message: expect.stringContaining("100000000") }]);
    // With no range of its own, the safe-integer limit is the issue.
    expect(issuesOf({ priceCents: 1, count: 9007199254740993, lines: [] })).toEqual([{ path: "count", message: expect.stringContaining("9007199254740991") }]);
  });

  it("name every issue with its dotted path, unknown fields one by one", () => {
    expect(issuesOf({ priceCents: -1, count: 1.5, lines: [{ quantity: 0 }], a: 1, b: 2 }).map((issue) => issue.path).sort()).toEqual(["a", "b", "count", "lines.0.quantity", "priceCents"]);
  });
});
