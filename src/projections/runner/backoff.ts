/** Small timing helpers for retries: abortable sleeps with capped exponential backoff. */

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Delay before retry number `attempt` (0-based): `baseMs` (100 ms) doubling, capped. */
export function backoffMs(attempt: number, capMs = 5000, baseMs = 100): number {
  return Math.min(capMs, baseMs * 2 ** attempt);
}
