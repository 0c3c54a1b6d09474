import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { ProgressLine, replayProgress } from "./replay_progress.ts";

/** A ProgressLine writing plain lines (not a TTY) into an array. */
function plainLine(total: number | null): { line: ProgressLine; lines: string[] } {
  const out = new PassThrough();
  const lines: string[] = [];
  out.on("data", (chunk: Buffer) => lines.push(...chunk.toString().split("\n").filter((text) => text !== "")));
  return { line: new ProgressLine({ out, label: "replay orders v2", total, startDone: 0 }), lines };
}

const flushed = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("replay progress", () => {
  it("is done over total, capped at 1; 1 once anything is done when the total is unknown", () => {
    expect(replayProgress(0, 1000)).toBe(0);
    expect(replayProgress(250, 1000)).toBe(0.25);
    expect(replayProgress(1200, 1000)).toBe(1);
    expect(replayProgress(0, null)).toBe(0);
    expect(replayProgress(5, null)).toBe(1);
  });

  it("prints plain lines with percent, counts, rate and ETA, throttled unless forced", async () => {
    const { line, lines } = plainLine(1000);
    line.update(100, true);
    line.update(200);
    await flushed();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^replay orders v2:\s+10\.0% 100\/1,000 events \d[\d,]* ev\/s ETA /);
    line.finish("done");
    await flushed();
    expect(lines.at(-1)).toBe("done");
  });

  it("grows the total with events appended after it was counted, never showing more done than total", async () => {
    const { line, lines } = plainLine(36_330);
    line.update(36_459, true);
    await flushed();
    expect(lines[0]).toContain("100.0% 36,459/36,459 events");
  });
});
