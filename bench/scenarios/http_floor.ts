/** http-floor: a bare node:http server answering a prepared JSON buffer — the floor for reads. */
import { startChild } from "../lib/child.ts";
import { runHttpLoad } from "../lib/http_load.ts";
import type { BenchOptions, Measurement, Scenario } from "../lib/types.ts";

/** Measures the bare HTTP floor for a body size at one connection count (own child process, peak RSS of it). */
export async function measureHttpFloor(options: BenchOptions, bodyBytes: number, connections: number, role: Measurement["role"] = "baseline"): Promise<Measurement> {
  const child = await startChild<{ url: string }>("bench/floor_server.ts", { args: [String(bodyBytes)], timeoutMs: 30_000 });
  try {
    return await runHttpLoad({
      label: `http-floor ${bodyBytes} B @${connections}`,
      role,
      url: child.hello.url,
      connections,
      durationS: options.durationS,
      next: () => ({ path: "/" }),
      peakRss: child.peakRss,
      rssOf: "floor server child",
    });
  } finally {
    await child.stop();
  }
}

export const httpFloor: Scenario = {
  name: "http-floor",
  description: "bare node:http answering a fixed prepared JSON buffer (the HTTP floor for reads)",
  async run(options) {
    const measurements: Measurement[] = [];
    for (const connections of options.connections) measurements.push(await measureHttpFloor(options, options.bodyBytes, connections, "subject"));
    return { params: { bodyBytes: options.bodyBytes }, measurements, comparisons: [] };
  },
};
