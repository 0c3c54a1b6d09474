/**
 * place-order: POST /v1/orders through the real service, next to pg-insert-floor (goal ≥ 0.5×)
 * and emmett-append at the same concurrency. The orders are sent by the lean client
 * (raw_http_load.ts): Emmett's loop runs in-process with no HTTP client at all, and on these
 * 2 cores what the client spends per request is taken from the service and PostgreSQL
 * (autocannon used 70 µs per order, the lean client 35).
 */
import { warmUpSeconds } from "../lib/http_load.ts";
import { runRawHttpLoad } from "../lib/raw_http_load.ts";
import { compare } from "../lib/report.ts";
import { requestGenerators } from "../lib/requests.ts";
import { settleReadSide, startTarget, waitForProjections } from "../lib/target.ts";
import type { Comparison, Measurement, Scenario } from "../lib/types.ts";
import { measureEmmettAppend } from "./emmett_append.ts";
import { measurePgInsertFloor } from "./pg_insert_floor.ts";

export const placeOrder: Scenario = {
  name: "place-order",
  description: "POST /v1/orders through the service (varied valid bodies over seeded products) vs. plain INSERTs and Emmett",
  async run(options) {
    const connectionsList = options.smoke ? options.connections : [...new Set([32, 128, ...options.connections])].sort((a, b) => a - b);
    const events = options.smoke ? options.events : Math.min(options.events, 100_000);
    const measurements: Measurement[] = [];
    const comparisons: Comparison[] = [];
    const target = await startTarget(options, events);
    try {
      if (!target.token) throw new Error("place-order needs --token with scope commands for an external --url");
      await waitForProjections(target, options.smoke ? 120 : 1800);
      await settleReadSide(target, options.log);
      const next = requestGenerators(target.size, target.token)["place-order"];
      await runRawHttpLoad({ label: "warm-up", role: "subject", url: target.url, next, connections: connectionsList[0]!, durationS: warmUpSeconds(options.durationS) });
      for (const connections of connectionsList) {
        measurements.push(await runRawHttpLoad({ label: `place-order @${connections}`, role: "subject", url: target.url, connections, durationS: options.durationS, next, peakRss: target.peakRss, rssOf: "service child", unit: "order" }));
      }
    } finally {
      await target.stop();
    }
    for (const connections of connectionsList) {
      measurements.push(await measurePgInsertFloor(options, connections, "baseline"));
      measurements.push(await measureEmmettAppend(options, connections, "baseline"));
      for (const c of [
        compare(measurements, `place-order @${connections}`, `pg-insert-floor @${connections}`, 0.5),
        compare(measurements, `place-order @${connections}`, `emmett-append @${connections}`),
      ]) if (c) comparisons.push(c);
    }
    return { params: { seededEvents: target.seededEvents, size: target.size }, measurements, comparisons };
  },
};
