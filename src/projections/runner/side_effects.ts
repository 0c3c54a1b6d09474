/**
 * Live-mode side effects: after a batch's rows committed, calls the definition's
 * `sideEffects` for every handled event past the projection's side-effect position, then
 * records the new position. The position is per projection (not per physical version),
 * so a version switch or a restart does not fire an event's side effects again; a replay
 * never creates a SideEffects at all.
 */
import type { Logger } from "pino";
import type { Pool } from "../../db/pool.ts";
import type { RecordedEvent } from "../../event_store/types.ts";
import { comparePositions, encodePosition, parsePosition, START, type Position } from "../../shared/position.ts";
import type { ProjectionDefinition } from "../define.ts";
import { backoffMs, sleep } from "./backoff.ts";

const ATTEMPTS = 3;

/** Fires one live projection's side effects in log order (see the module comment). */
export class SideEffects {
  #pool: Pool;
  #definition: ProjectionDefinition;
  #version: number;
  #logger: Logger;
  #position: Position | null = null;

  constructor(options: { pool: Pool; definition: ProjectionDefinition; version: number; logger: Logger }) {
    this.#pool = options.pool;
    this.#definition = options.definition;
    this.#version = options.version;
    this.#logger = options.logger;
  }

  /** Calls the hook for the batch's new handled events, then records the batch's last position. */
  async fire(batch: readonly RecordedEvent[], signal: AbortSignal): Promise<void> {
    const hook = this.#definition.sideEffects;
    const last = batch.at(-1);
    if (!hook || !last) return;
    const name = this.#definition.name;
    if (this.#position === null) {
      await this.#pool.query("INSERT INTO projection_side_effects (name, position) VALUES ($1, $2) ON CONFLICT DO NOTHING", [name, "0-0"]);
      const result = await this.#pool.query<{ position: string }>("SELECT position FROM projection_side_effects WHERE name = $1", [name]);
      this.#position = parsePosition(result.rows[0]?.position ?? "0-0") ?? START;
    }
    const from = this.#position;
    if (comparePositions(last.position, from) <= 0) return;
    for (const event of batch) {
      if (!this.#definition.handles.has(event.type) || comparePositions(event.position, from) <= 0) continue;
      for (let attempt = 1; ; attempt++) {
        try {
          await hook.call(this.#definition, event, { projection: name, version: this.#version, signal });
          break;
        } catch (error) {
          if (attempt >= ATTEMPTS || signal.aborted) {
            this.#logger.error({ projection: name, eventId: event.eventId, error: (error as Error).message }, "side effect failed; skipping it");
            break;
          }
          await sleep(backoffMs(attempt), signal).catch(() => undefined);
        }
      }
    }
    await this.#pool.query("UPDATE projection_side_effects SET position = $2 WHERE name = $1", [name, encodePosition(last.position)]);
    this.#position = last.position;
  }
}
