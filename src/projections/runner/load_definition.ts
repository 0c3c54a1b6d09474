/**
 * Imports projection definitions by module reference (a worker thread cannot receive
 * functions), caching each module's definition per thread.
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { ProjectionDefinition, ProjectionModuleRef } from "../define.ts";

const cache = new Map<string, Promise<ProjectionDefinition>>();

/**
 * Imports a module by URL. In a Node 20 worker thread tsx's ESM hooks are not active
 * (piscina loads the worker entry through require, where tsx's CJS hook is), so a
 * TypeScript module that import() rejects is loaded through require instead.
 */
async function importModule(url: string): Promise<Record<string, unknown>> {
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if ((error as { code?: string }).code !== "ERR_UNKNOWN_FILE_EXTENSION") throw error;
    return createRequire(import.meta.url)(fileURLToPath(url)) as Record<string, unknown>;
  }
}

/** Imports (once per thread) the definition a module reference names; throws when the export is missing. */
export function loadDefinition(ref: ProjectionModuleRef): Promise<ProjectionDefinition> {
  const id = `${ref.url}#${ref.exportName}`;
  let loaded = cache.get(id);
  if (!loaded) {
    loaded = importModule(ref.url).then((module) => {
      const definition = module[ref.exportName] as ProjectionDefinition | undefined;
      if (!definition || typeof definition.reduce !== "function") {
        throw new Error(`Module ${ref.url} has no projection export ${ref.exportName}`);
      }
      return definition;
    });
    loaded.catch(() => cache.delete(id));
    cache.set(id, loaded);
  }
  return loaded;
}

/** Loads every referenced definition. */
export function loadDefinitions(refs: readonly ProjectionModuleRef[]): Promise<ProjectionDefinition[]> {
  return Promise.all(refs.map(loadDefinition));
}
