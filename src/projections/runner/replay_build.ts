/**
 * A replay's target version: resumes the newest `building` version built by the current
 * definition (its checkpoints say where it stopped), or creates version
 * max(ever created) + 1 with its tables but without secondary indexes (they are built
 * once the load reached the head), and switches the serving version over atomically.
 */
import { inTransaction, type Pool } from "../../db/pool.ts";
import type { EventStore } from "../../event_store/types.ts";
import { comparePositions, parsePosition, START } from "../../shared/position.ts";
import type { ProjectionDefinition } from "../define.ts";
import { createTables } from "./schema.ts";
import { ACTIVE_CHANNEL } from "./watermark.ts";

export interface Build {
  version: number;
  resumed: boolean;
  indexesBuilt: boolean;
  total: number | null;
}

async function countEvents(pool: Pool, store: EventStore): Promise<number | null> {
  if (store.kind !== "postgres") return null;
  const result = await pool.query<{ count: string }>("SELECT count(*) AS count FROM events");
  return Number(result.rows[0]?.count ?? 0);
}

/** Resumes or creates the replay target of the current definition (call while holding the replay lock). */
export async function prepareBuild(pool: Pool, store: EventStore, definition: ProjectionDefinition): Promise<Build> {
  const total = await countEvents(pool, store);
  return inTransaction(pool, async (client) => {
    const building = await client.query<{ version: number; definition_version: number; indexes_built: boolean; events_total: string | null }>(
      "SELECT version, definition_version, indexes_built, events_total FROM projections WHERE name = $1 AND state = 'building' ORDER BY version DESC FOR UPDATE",
      [definition.name],
    );
    const match = building.rows.find((row) => row.definition_version === definition.version);
    for (const row of building.rows) {
      if (row === match) continue;
      await client.query("UPDATE projections SET state = 'retired', drop_after = now() WHERE name = $1 AND version = $2", [definition.name, row.version]);
    }
    if (match) {
      return { version: match.version, resumed: true, indexesBuilt: match.indexes_built, total: match.events_total === null ? null : Number(match.events_total) };
    }
    const max = await client.query<{ max: number | null }>("SELECT max(version) AS max FROM projections WHERE name = $1", [definition.name]);
    const version = (max.rows[0]?.max ?? 0) + 1;
    const tables = await createTables(client, definition, version, false);
    await client.query(
      `INSERT INTO projections (name, version, definition_version, state, tables, indexes_built, events_total) VALUES ($1, $2, $3, 'building', $4, false, $5)`,
      [definition.name, version, definition.version, tables, total],
    );
    return { version, resumed: false, indexesBuilt: false, total };
  });
}

/**
 * Makes `version` the serving version in one transaction (with NOTIFY) when its watermark
 * is at or past the serving version's (whose watermark row stays locked meanwhile);
 * retires the old version with `drop_after = now() + graceMs`. Returns the old version, or null when not yet.
 */
export async function trySwitch(pool: Pool, name: string, version: number, graceMs: number): Promise<number | null> {
  return inTransaction(pool, async (client) => {
    const active = await client.query<{ version: number }>("SELECT version FROM projection_active WHERE name = $1 FOR UPDATE", [name]);
    const old = active.rows[0]?.version ?? null;
    const positions = await client.query<{ version: number; position: string }>(
      "SELECT version, position FROM projections WHERE name = $1 AND version = ANY($2::int[]) FOR UPDATE",
      [name, old === null ? [version] : [old, version]],
    );
    const at = (v: number): ReturnType<typeof parsePosition> => parsePosition(positions.rows.find((row) => row.version === v)?.position ?? "0-0") ?? START;
    if (old !== null && comparePositions(at(version)!, at(old)!) < 0) return null;
    await client.query(
      "INSERT INTO projection_active (name, version) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET version = excluded.version, updated_at = now()",
      [name, version],
    );
    await client.query("UPDATE projections SET state = 'live', indexes_built = true, updated_at = now() WHERE name = $1 AND version = $2", [name, version]);
    if (old !== null && old !== version) {
      await client.query("UPDATE projections SET state = 'retired', drop_after = now() + $3 * interval '1 millisecond' WHERE name = $1 AND version = $2", [name, old, graceMs]);
    }
    await client.query("SELECT pg_notify($1, $2)", [ACTIVE_CHANNEL, `${name} ${version}`]);
    return old ?? version;
  });
}
