/**
 * projection-throughput: seed N events, start the service, time from "service listening"
 * until every projection has caught up (events/s, peak RSS of the service); next to the
 * floor for writing the same data: COPY of the finished read-model rows of all three
 * projections into empty tables of the same shape, in the same run.
 */
import { copyFloorMeasurement, copyReadModels } from "../lib/read_model_copy.ts";
import { compare } from "../lib/report.ts";
import { startTarget, waitForProjections } from "../lib/target.ts";
import type { Measurement, Scenario } from "../lib/types.ts";

const POLL_MS = 500;

export const projectionThroughput: Scenario = {
  name: "projection-throughput",
  description: "catch-up of all projections from zero over a seeded history (events/s, from \"service listening\"), vs. COPY of the finished read-model rows into empty tables",
  async run(options) {
    if (options.url) throw new Error("projection-throughput starts its own service (it cannot use --url)");
    const target = await startTarget(options);
    const measurements: Measurement[] = [];
    let copies;
    try {
      // Polled every 500 ms (at most 0.5 s late): each status call counts the lag of every
      // projection, up to 1M index entries each, and polling faster slowed the catch-up it timed.
      const caughtUp = await waitForProjections(target, options.smoke ? 120 : 3600, options.smoke ? 20 : POLL_MS);
      const seconds = Math.max(0.001, (caughtUp.caughtUpAtMs - target.listeningAtMs) / 1000);
      const fromSpawn = (caughtUp.caughtUpAtMs - target.spawnedAtMs) / 1000;
      // CPU the service used from spawn to caught up (start-up included): on a shared, noisy
      // machine a steadier measure of the work per event than the wall-clock rate.
      const cpu = target.cpuSeconds();
      const cpuNote = cpu === null ? "" : `; service CPU ${cpu.toFixed(1)} s from spawn to caught up (all threads; ${((cpu / target.seededEvents) * 1e6).toFixed(0)} µs per event)`;
      measurements.push({
        label: `projections catch-up ${target.seededEvents} events`, role: "subject", connections: null, durationS: Math.round(seconds * 1000) / 1000,
        operations: target.seededEvents, throughput: Math.round(target.seededEvents / seconds), unit: "event", latencyMs: null, errors: caughtUp.items.filter((i) => i.status === "failed").length,
        peakRssBytes: target.peakRss(), rssOf: "service child (peak over start-up and catch-up)",
        notes: `timed from "service listening" to all caught up (polled every ${options.smoke ? 20 : POLL_MS} ms; projections start before the listener, so work done during start-up counts for free); from process spawn: ${fromSpawn.toFixed(3)} s; projections: ${caughtUp.items.map((i) => i.name).join(", ")}; seeding took ${target.seedSeconds?.toFixed(1)} s${cpuNote}`,
      });
      copies = await copyReadModels(options.databaseUrl, target.databaseUrl!);
    } finally {
      await target.stop();
    }
    const floor = copyFloorMeasurement(`copy-floor read models (${copies.map((c) => c.projection).join(" + ")})`, copies, target.seededEvents);
    measurements.push(floor);
    const c = compare(measurements, measurements[0]!.label, floor.label);
    return { params: { events: target.seededEvents, size: target.size, readModels: copies.map(({ projection, version, tables, rows, bytes, seconds }) => ({ projection, version, tables, rows, bytes, seconds: Math.round(seconds * 1000) / 1000 })) }, measurements, comparisons: c ? [c] : [] };
  },
};
