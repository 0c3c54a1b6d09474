/** Runs async work over a lazy sequence with bounded concurrency. */

/** Applies `work` to every job with at most `concurrency` in flight; pulls jobs lazily; stops at and rethrows the first failure. */
export async function runBounded<T>(jobs: Iterable<T>, concurrency: number, work: (job: T) => Promise<void>): Promise<void> {
  const iterator = jobs[Symbol.iterator]();
  let failure: { error: unknown } | null = null;
  async function lane(): Promise<void> {
    while (failure === null) {
      const next = iterator.next();
      if (next.done) return;
      try {
        await work(next.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
  if (failure !== null) throw (failure as { error: unknown }).error;
}
