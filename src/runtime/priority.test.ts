import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";

const linux = existsSync("/proc/self/task");

describe.skipIf(!linux)(linux ? "lowerProcessPriority" : "lowerProcessPriority: skipped, no /proc/self/task (not Linux)", () => {
  it("lowers every thread of the process, V8's and libuv's included, not only the calling one", () => {
    // In a child process: niceness cannot be raised back without privileges.
    const script = `
      import fs from "node:fs";
      import { lowerProcessPriority } from ${JSON.stringify(new URL("./priority.ts", import.meta.url).href)};
      lowerProcessPriority(7);
      const nice = (tid) => Number(fs.readFileSync("/proc/self/task/" + tid + "/stat", "utf8").split(") ")[1].split(" ")[16]);
      console.log(JSON.stringify(fs.readdirSync("/proc/self/task").map(nice)));
    `;
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
    const niceness = JSON.parse(out.trim().split("\n").at(-1)!) as number[];
    // Node starts several threads besides the main one (V8 platform workers at least).
    expect(niceness.length).toBeGreaterThan(1);
    expect(new Set(niceness)).toEqual(new Set([7]));
  });
});
