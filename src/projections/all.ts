/**
 * Every projection the service runs: the definitions (for in-process use and tests) and
 * module references a worker thread can import by itself.
 */
import type { ProjectionDefinition, ProjectionModuleRef } from "./define.ts";
import { dailySales } from "./daily_sales/projection.ts";
import { orders } from "./orders/projection.ts";
import { productCatalog } from "./product_catalog/projection.ts";

/** The projection definitions, by name order of registration. */
export const projections: readonly ProjectionDefinition[] = [productCatalog, orders, dailySales];

/** Where each projection lives, for workers (module URL + export name). */
export const projectionModules: ProjectionModuleRef[] = [
  { name: productCatalog.name, url: new URL("./product_catalog/projection.ts", import.meta.url).href, exportName: "productCatalog" },
  { name: orders.name, url: new URL("./orders/projection.ts", import.meta.url).href, exportName: "orders" },
  { name: dailySales.name, url: new URL("./daily_sales/projection.ts", import.meta.url).href, exportName: "dailySales" },
];
