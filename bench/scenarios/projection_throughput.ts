/** projection-throughput: seed N events, start the service, time until every projection has caught up; next to COPY of N rows. */
import { compare } from "../lib/report.ts";
import { startTarget, waitForProjections } from "../lib/target.ts";
import type { Measurement, Scenario } from "../lib/types.ts";
import { measureCopyFloor } from "./copy_floor.ts";

export const projectionThroughput: Scenario = {
  name: "projection-throughput",
  description: "catch-up of all projections from zero over a seeded history (events/s), vs. the COPY floor for the same number of rows",
  async run(options) {
    if (options.url) throw new Error("projection-throughput starts its own service (it cannot use --url)");
    const target = await startTarget(options);
    let measurement: Measurement;
    try {
      const caughtUp = await waitForProjections(target, options.smoke ? 120 : 3600);
      const seconds = (Date.now() - target.spawnedAtMs) / 1000; // from spawn: includes process start-up, so a lower bound on throughput
      measurement = {
        label: `projections catch-up ${target.seededEvents} events`, role: "subject", connections: null, durationS: Math.round(seconds * 1000) / 1000,
        operations: target.seededEvents, throughput: Math.round(target.seededEvents / seconds), unit: "event", latencyMs: null, errors: caughtUp.items.filter((i) => i.status === "failed").length,
        peakRssBytes: target.peakRss(), rssOf: "service child", notes: `timed from process spawn (start-up included); projections: ${caughtUp.items.map((i) => i.name).join(", ")}; seeding took ${target.seedSeconds?.toFixed(1)} s`,
      };
    } finally {
      await target.stop();
    }
    const floor = await measureCopyFloor(options, target.seededEvents);
    const measurements = [measurement, floor];
    const c = compare(measurements, measurement.label, floor.label);
    return { params: { events: target.seededEvents, size: target.size }, measurements, comparisons: c ? [c] : [] };
  },
};
