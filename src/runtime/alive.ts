/** True when a process with this pid exists (signal 0 reaches it; no signal is sent). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
