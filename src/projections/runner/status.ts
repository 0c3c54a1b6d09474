/**
 * Projection status as `GET /v1/projections` and `npm run cli -- status` show it:
 * serving version, low watermark, head, lag, parked events and what the runner is doing.
 */
import type { Pool } from "../../db/pool.ts";
import type { EventStore } from "../../event_store/types.ts";
import { comparePositions, encodePosition, START, type Position } from "../../shared/position.ts";
import type { ProjectionDefinition, ProjectionModuleRef } from "../define.ts";
import { loadDefinitions } from "./load_definition.ts";
import { leaderExists } from "./leadership.ts";
import { parkedCount } from "./park.ts";
import { readWatermark } from "./watermark.ts";

export type ProjectionStatusValue = "running" | "catching_up" | "rebuilding" | "stopped" | "failed";

export interface ProjectionStatusItem {
  name: string;
  version: number;
  status: ProjectionStatusValue;
  position: string;
  headPosition: string;
  lagEvents: number;
  parkedEvents: number;
  rebuild: { version: number; position: string; progress: number } | null;
}

/** What this process knows locally about a projection it leads ("failed" wins). */
export type LocalState = "leading" | "failed" | "standby";

const CAUGHT_UP_LAG = 1000;
const LAG_CAP = 1_000_000;

async function lagBetween(pool: Pool, store: EventStore, position: Position, head: Position | null): Promise<number> {
  if (!head || comparePositions(position, head) >= 0) return 0;
  if (store.kind === "postgres") {
    const result = await pool.query<{ lag: string }>(
      `SELECT count(*) AS lag FROM (SELECT 1 FROM events WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
         AND (transaction_id, global_position) <= ($3::xid8, $4::bigint) LIMIT ${LAG_CAP}) AS pending`,
      [position.commit.toString(), position.prepare.toString(), head.commit.toString(), head.prepare.toString()],
    );
    return Number(result.rows[0]?.lag ?? 0);
  }
  return (await store.readAll(comparePositions(position, START) === 0 ? null : position, 10_000)).length;
}

/** Status of every projection's serving version; `local` names the projections this process leads or saw fail. */
export async function projectionStatus(options: {
  pool: Pool;
  store: EventStore;
  definitions: readonly ProjectionDefinition[];
  local?: ReadonlyMap<string, LocalState>;
}): Promise<{ items: ProjectionStatusItem[] }> {
  const { pool, store } = options;
  const head = await store.headPosition();
  const items: ProjectionStatusItem[] = [];
  for (const definition of options.definitions) {
    const active = await pool.query<{ version: number }>("SELECT version FROM projection_active WHERE name = $1", [definition.name]);
    const version = active.rows[0]?.version ?? definition.version;
    const position = await readWatermark(pool, definition.name, version);
    const lagEvents = await lagBetween(pool, store, position, head);
    const local = options.local?.get(definition.name);
    let status: ProjectionStatusValue;
    if (local === "failed") status = "failed";
    else if (local !== "leading" && !(await leaderExists(pool, definition.name))) status = "stopped";
    else status = lagEvents > CAUGHT_UP_LAG ? "catching_up" : "running";
    items.push({
      name: definition.name,
      version,
      status,
      position: encodePosition(position),
      headPosition: encodePosition(head ?? START),
      lagEvents,
      parkedEvents: await parkedCount(pool, definition.name, version),
      rebuild: null,
    });
  }
  return { items };
}

/** Status for the CLI (`npm run cli -- status`): loads the definitions by module reference, then reports. */
export async function projectionStatusForModules(options: { pool: Pool; store: EventStore; projections: readonly ProjectionModuleRef[] }): Promise<{ items: ProjectionStatusItem[] }> {
  const definitions = await loadDefinitions(options.projections);
  return projectionStatus({ pool: options.pool, store: options.store, definitions });
}
