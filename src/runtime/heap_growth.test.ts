import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const MODULE = new URL("./heap_growth.ts", import.meta.url).href;

/**
 * A child that streams objects through a ring (each lives long enough to be promoted, then
 * dies, as events do in a catch-up) and prints the largest old generation it saw (on this
 * machine 185 MiB by default, 74 MiB bounded).
 */
const CHILD = `
import { getHeapSpaceStatistics } from "node:v8";
if (process.argv[1] === "bound") (await import(${JSON.stringify(MODULE)})).boundHeapGrowth();
const ring = new Array(200_000);
let peak = 0;
for (let i = 0; i < 3_000_000; i++) {
  ring[i % ring.length] = { id: "event-" + i, values: [i, i + 1, i + 2, i + 3, i + 4, i + 5] };
  if (i % 1000 === 0) peak = Math.max(peak, getHeapSpaceStatistics().find((space) => space.space_name === "old_space").space_size);
}
console.log(peak);
`;

async function peakHeap(mode: "bound" | "default"): Promise<number> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", CHILD, mode]);
  return Number(stdout.trim());
}

describe("bounded heap growth", () => {
  it("keeps a heap that promotes short-lived objects near its live size (set at run time, in the same process)", { timeout: 60_000 }, async () => {
    const unbounded = await peakHeap("default");
    const bounded = await peakHeap("bound");
    expect(bounded).toBeGreaterThan(0);
    expect(bounded).toBeLessThan(unbounded * 0.75);
  });
});
