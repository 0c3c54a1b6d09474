/** seed: how fast the seeder writes ~N events through the event store (business-time order, one event per append, 64 in flight), vs. COPY of N rows. */
import { migrate } from "../../src/db/migrate.ts";
import { createPostgresStore } from "../../src/event_store/postgres.ts";
import { seed, seedSizeForEvents } from "../../src/seed/seed.ts";
import { createBenchDatabase } from "../lib/database.ts";
import { compare } from "../lib/report.ts";
import { peakRss, resetOwnPeakRss } from "../lib/rss.ts";
import type { Measurement, Scenario } from "../lib/types.ts";
import { measureCopyFloor } from "./copy_floor.ts";

export const seedSpeed: Scenario = {
  name: "seed",
  description: "seeding ~N events through EventStore.append (business-time order, one event per append, 64 in flight, synchronous_commit off) vs. the COPY floor",
  async run(options) {
    const size = seedSizeForEvents(options.events);
    const db = await createBenchDatabase(options.databaseUrl, "seed");
    let measurement: Measurement;
    try {
      const pool = db.pool(16, { synchronousCommit: false });
      await migrate(pool);
      const store = createPostgresStore(pool, { connectionString: db.url });
      resetOwnPeakRss();
      const begin = performance.now();
      const { events } = await seed(store, size);
      const seconds = (performance.now() - begin) / 1000;
      await store.close();
      measurement = {
        label: `seed ${events} events`, role: "subject", connections: 16, durationS: Math.round(seconds * 1000) / 1000, operations: events,
        throughput: Math.round(events / seconds), unit: "event", latencyMs: null, errors: 0, peakRssBytes: peakRss(process.pid), rssOf: "bench process (seeder)",
      };
    } finally {
      await db.drop();
    }
    const floor = await measureCopyFloor(options, measurement.operations);
    const measurements = [measurement, floor];
    const c = compare(measurements, measurement.label, floor.label);
    return { params: { size }, measurements, comparisons: c ? [c] : [] };
  },
};
