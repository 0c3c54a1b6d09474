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

/** CPU seconds (user + system, every thread) a process has used so far, from /proc/<pid>/stat; null when unavailable. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the whole line (11 and 12 here), in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
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
