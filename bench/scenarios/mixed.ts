/**
 * Mixed read/write load (90/10 or 70/30), closed loop in stages: ramp (C/8 → 2C), stress
 * (2C, 4C) and spike (C/4 → 4C → C/4), C = the largest --connections. Reads are spread over
 * every query route; writes are POST /v1/orders. The open-loop fixed-rate runs with reads
 * and writes apart are mixed-90-10-steady and soak (mixed_steady.ts, soak.ts).
 */
import { runHttpLoad } from "../lib/http_load.ts";
import { compare } from "../lib/report.ts";
import { READ_KINDS, requestGenerators, typicalBodyBytes } from "../lib/requests.ts";
import { sharedTarget } from "../lib/target.ts";
import type { BenchOptions, Comparison, Measurement, Scenario } from "../lib/types.ts";
import { createRandom } from "../../src/seed/prng.ts";
import { measureHttpFloor } from "./http_floor.ts";

export type Profile = "ramp" | "stress" | "spike";

/** The stages of a profile: connections and seconds for each. */
export function profileStages(profile: Profile, options: BenchOptions): { connections: number; durationS: number }[] {
  const c = Math.max(...options.connections);
  const at = (factor: number, durationS = options.durationS) => ({ connections: Math.max(1, Math.round(c * factor)), durationS });
  switch (profile) {
    case "ramp": return [at(1 / 8), at(1 / 4), at(1 / 2), at(1), at(2)];
    case "stress": return [at(2), at(4)];
    case "spike": return [at(1 / 4), at(4), at(1 / 4)];
  }
}

/** A mixed scenario with `readShare` of reads (0.9 or 0.7) under one load profile. */
export function mixedScenario(readShare: number, profile: Profile): Scenario {
  const mix = `${Math.round(readShare * 100)}-${Math.round((1 - readShare) * 100)}`;
  return {
    name: `mixed-${mix}-${profile}`,
    description: `${Math.round(readShare * 100)}% reads over all query routes / ${Math.round((1 - readShare) * 100)}% POST /v1/orders, ${profile} profile`,
    async run(options) {
      const target = await sharedTarget(options);
      if (!target.token) throw new Error("mixed scenarios need --token with scope commands for an external --url");
      const generators = requestGenerators(target.size, target.token);
      const random = createRandom(target.size.seed, `mixed-${mix}`);
      const read = () => generators[random.pick(READ_KINDS)]();
      const next = () => (random.chance(readShare) ? read() : generators["place-order"]());
      const bodyBytes = await typicalBodyBytes(target.url, read, 30);
      const measurements: Measurement[] = [];
      const comparisons: Comparison[] = [];
      const stages = profileStages(profile, options);
      for (const [i, stage] of stages.entries()) {
        measurements.push(await runHttpLoad({ label: `${profile} ${i + 1}/${stages.length} @${stage.connections}`, role: "subject", url: target.url, connections: stage.connections, durationS: stage.durationS, next, okStatuses: [304], peakRss: target.peakRss, rssOf: "service child (shared; peak so far)" }));
      }
      const c = Math.max(...options.connections);
      measurements.push(await measureHttpFloor(options, bodyBytes, c));
      for (const [i, stage] of stages.entries()) {
        const comparison = compare(measurements, `${profile} ${i + 1}/${stages.length} @${stage.connections}`, `http-floor ${bodyBytes} B @${c}`);
        if (comparison) comparisons.push(comparison);
      }
      return { params: { readShare, profile, stages, seededEvents: target.seededEvents, typicalReadBodyBytes: bodyBytes }, measurements, comparisons };
    },
  };
}
