/** Peak and current resident memory (VmHWM, VmRSS) of a process from /proc, and resetting our own peak. */
import { readFileSync, writeFileSync } from "node:fs";

/** A kB field of /proc/<pid>/status in bytes, or null when /proc is unavailable or the process is gone. */
function statusBytes(pid: number, field: "VmHWM" | "VmRSS"): number | null {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+)\\s+kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** VmHWM of a process in bytes, or null when /proc is unavailable or the process is gone. */
export function peakRss(pid: number): number | null {
  return statusBytes(pid, "VmHWM");
}

/** VmRSS (current resident set) of a process in bytes, or null when /proc is unavailable or the process is gone. */
export function currentRss(pid: number): number | null {
  return statusBytes(pid, "VmRSS");
}

/** Resets this process's peak RSS (Linux clear_refs 5) so the next reading covers only what follows; false when not possible. */
export function resetOwnPeakRss(): boolean {
  try {
    writeFileSync(`/proc/${process.pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}
