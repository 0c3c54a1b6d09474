/**
 * Physical versions versus definition versions. A physical version (`<table>_v<N>`,
 * `<name>:v<N>:`) is built by one definition version; the runner applies a definition only
 * to the physical version it built. Several definitions of one projection may be listed
 * (the current one, highest version, and older ones still able to follow live events).
 */
import type { Pool } from "../../db/pool.ts";
import type { ProjectionDefinition, ProjectionModuleRef } from "../define.ts";
import { ensureProjectionSchema } from "./schema.ts";

/** One projection's listed definitions: the current (highest version) one and every listed one. */
export interface ProjectionFamily {
  name: string;
  current: ProjectionDefinition;
  module: ProjectionModuleRef;
  all: Array<{ definition: ProjectionDefinition; module: ProjectionModuleRef }>;
}

/** Groups definitions (in the order of `modules`) by projection name; the highest version is current. */
export function groupDefinitions(definitions: readonly ProjectionDefinition[], modules: readonly ProjectionModuleRef[]): ProjectionFamily[] {
  const families = new Map<string, ProjectionFamily>();
  definitions.forEach((definition, i) => {
    const module = modules[i]!;
    const family = families.get(definition.name);
    if (!family) {
      families.set(definition.name, { name: definition.name, current: definition, module, all: [{ definition, module }] });
      return;
    }
    family.all.push({ definition, module });
    if (definition.version > family.current.version) {
      family.current = definition;
      family.module = module;
    }
  });
  return [...families.values()];
}

/** What serves a projection: its physical version, the definition version that built it, and the listed definition able to follow it (null: none). */
export interface Serving {
  physical: number;
  definitionVersion: number;
  definition: ProjectionDefinition | null;
  module: ProjectionModuleRef | null;
}

/** Reads the serving physical version and the definition version that built it (null before the first install). */
export async function readServing(pool: Pool, name: string): Promise<{ physical: number; definitionVersion: number } | null> {
  const result = await pool.query<{ version: number; definition_version: number | null }>(
    "SELECT a.version, p.definition_version FROM projection_active a LEFT JOIN projections p ON p.name = a.name AND p.version = a.version WHERE a.name = $1",
    [name],
  );
  const row = result.rows[0];
  return row ? { physical: row.version, definitionVersion: row.definition_version ?? row.version } : null;
}

/** Resolves (installing on first start) the serving version and the listed definition that built it. */
export async function resolveServing(pool: Pool, family: ProjectionFamily): Promise<Serving> {
  let serving = await readServing(pool, family.name);
  if (!serving) {
    await ensureProjectionSchema(pool, family.current);
    serving = await readServing(pool, family.name);
    if (!serving) throw new Error(`Projection ${family.name} has no serving version after install`);
  }
  const match = family.all.find((entry) => entry.definition.version === serving.definitionVersion);
  return { ...serving, definition: match?.definition ?? null, module: match?.module ?? null };
}
