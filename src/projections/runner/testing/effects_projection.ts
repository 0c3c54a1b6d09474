/**
 * The counter projection with a side effect that records, in this process, every event it
 * was called for: tests check that live mode calls it once per event and a replay never.
 */
import type { RecordedEvent } from "../../../event_store/types.ts";
import { defineProjection } from "../../define.ts";
import { counterProjection } from "./counter_projection.ts";

/** Event ids the side effect was called with, in call order. */
export const sideEffectCalls: string[] = [];

/** The counter projection plus a recording side effect. */
export const effectsProjection = defineProjection({
  ...counterProjection,
  sideEffects(event: RecordedEvent): void {
    sideEffectCalls.push(event.eventId);
  },
});

/** Module reference for the runner. */
export const effectsModule = { name: "test_counter", url: new URL("./effects_projection.ts", import.meta.url).href, exportName: "effectsProjection" };
