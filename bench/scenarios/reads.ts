/** Read scenarios (one per query route): the service under load next to the bare HTTP floor with the same body size and connections. */
import { runHttpLoad, warmUp } from "../lib/http_load.ts";
import { compare } from "../lib/report.ts";
import { requestGenerators, typicalBodyBytes, type RequestKind } from "../lib/requests.ts";
import { sharedTarget } from "../lib/target.ts";
import type { Comparison, Measurement, Scenario } from "../lib/types.ts";
import { measureHttpFloor } from "./http_floor.ts";

const DESCRIPTIONS: Partial<Record<RequestKind, string>> = {
  "product-by-id": "GET /v1/products/{id} (10% by-sku), Zipf-skewed products",
  "product-list": "GET /v1/products by category with each sort, limit 20",
  "customer-orders": "GET /v1/customers/{id}/orders, Zipf-skewed customers",
  "order-by-id": "GET /v1/orders/{id}, uniform over seeded orders",
  "best-sellers": "GET /v1/categories/{category}/best-sellers",
  "daily-sales": "GET /v1/stats/daily-sales over random 1–31-day ranges, half by category",
};

/** A scenario that loads one read route after seeding and catching up, then the floor with the same body size. */
export function readScenario(kind: RequestKind): Scenario {
  return {
    name: kind,
    description: `${DESCRIPTIONS[kind] ?? kind} vs. the HTTP floor`,
    async run(options) {
      const measurements: Measurement[] = [];
      const comparisons: Comparison[] = [];
      const target = await sharedTarget(options);
      const next = requestGenerators(target.size, target.token)[kind];
      const bodyBytes = await typicalBodyBytes(target.url, next);
      await warmUp({ url: target.url, next, connections: options.connections[0]!, durationS: options.durationS });
      for (const connections of options.connections) {
        measurements.push(await runHttpLoad({ label: `${kind} @${connections}`, role: "subject", url: target.url, connections, durationS: options.durationS, next, okStatuses: [304], peakRss: target.peakRss, rssOf: "service child (shared by read scenarios; peak so far)" }));
      }
      for (const connections of options.connections) {
        measurements.push(await measureHttpFloor(options, bodyBytes, connections));
        const c = compare(measurements, `${kind} @${connections}`, `http-floor ${bodyBytes} B @${connections}`);
        if (c) comparisons.push(c);
      }
      return { params: { seededEvents: target.seededEvents, size: target.size, typicalBodyBytes: bodyBytes }, measurements, comparisons };
    },
  };
}
