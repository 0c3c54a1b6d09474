/** Every scenario, in the order `npm run bench` runs them. */
import type { Scenario } from "../lib/types.ts";
import { copyFloor } from "./copy_floor.ts";
import { emmettAppend } from "./emmett_append.ts";
import { emmettRebuild } from "./emmett_rebuild.ts";
import { freshness } from "./freshness.ts";
import { httpFloor } from "./http_floor.ts";
import { mixedScenario } from "./mixed.ts";
import { mixedSteady } from "./mixed_steady.ts";
import { pgInsertFloor } from "./pg_insert_floor.ts";
import { placeOrder } from "./place_order.ts";
import { projectionThroughput } from "./projection_throughput.ts";
import { readScenario } from "./reads.ts";
import { replay } from "./replay.ts";
import { seedSpeed } from "./seed_speed.ts";
import { soak } from "./soak.ts";

export const SCENARIOS: readonly Scenario[] = [
  httpFloor,
  pgInsertFloor,
  copyFloor,
  seedSpeed,
  emmettAppend,
  placeOrder,
  readScenario("product-by-id"),
  readScenario("product-list"),
  readScenario("customer-orders"),
  readScenario("order-by-id"),
  readScenario("best-sellers"),
  readScenario("daily-sales"),
  ...(["ramp", "stress", "spike"] as const).flatMap((profile) => [mixedScenario(0.9, profile), mixedScenario(0.7, profile)]),
  mixedSteady,
  soak,
  freshness,
  projectionThroughput,
  replay,
  emmettRebuild,
];
