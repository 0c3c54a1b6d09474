import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const here = new URL(".", import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    // Tests and test support may build data with the projections; the query code may not.
    if (!entry.name.endsWith(".ts") || entry.name.endsWith(".test.ts") || entry.name.startsWith("test_")) return [];
    return [path];
  });
}

describe("query side imports", () => {
  it("never imports the event store, the commands or the projections", () => {
    const files = sources(here);
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      const imports = [...text.matchAll(/(?:import|export)[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1] ?? m[2] ?? "");
      for (const target of imports) {
        expect(target, `${file} imports ${target}`).not.toMatch(/(^|\/)(event_store|commands|projections)(\/|$)/);
      }
    }
  });
});
