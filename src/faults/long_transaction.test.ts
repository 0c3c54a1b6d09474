/**
 * A long-open transaction elsewhere in the database: commands still succeed, projections
 * wait (never skip), the lag shows in GET /v1/projections and /metrics, and after COMMIT
 * every event is applied.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, sendCommand, sendQuery, sleep } from "./support/client.ts";
import type { ServiceProcess } from "../testing/service_process.ts";
import { faultStackSkipReason, startFaultStack, type FaultStack } from "./support/stack.ts";
import { readEvents, readModelLag, streamVersions } from "./support/store_check.ts";

const skip = faultStackSkipReason();

interface StatusItem {
  name: string;
  status: string;
  lagEvents: number;
}

describe.skipIf(skip !== null)(`a long-open transaction${skip ? ` (${skip})` : ""}`, () => {
  let service: ServiceProcess;
  let databaseUrl = "";

  const seen: { catalog: StatusItem | null; metricsLag: string | null } = { catalog: null, metricsLag: null };
  let stack: FaultStack | undefined;
  beforeAll(async () => {
    stack = await startFaultStack();
    ({ service, databaseUrl } = stack);
  });
  afterAll(async () => stack?.stop());

  it("keeps commands working, holds projections back (never skipping), and applies everything after COMMIT", { timeout: 120_000 }, async () => {
    const first = await sendCommand(service.url, "/v1/products", { sku: "LT-0", name: "Before", category: "faults-lt", priceCents: 100 });
    expect(first.status).toBe(201);
    const firstId = (first.body as { id: string }).id;
    expect(await eventually(async () => (await sendQuery(service.url, `/v1/products/${firstId}`)).status === 200, { timeoutMs: 20_000 })).toBe(true);

    const holder = new pg.Client({ connectionString: databaseUrl });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT pg_current_xact_id()");
      const ids: string[] = [];
      for (let i = 1; i <= 20; i++) {
        const created = await sendCommand(service.url, "/v1/products", { sku: `LT-${i}`, name: `During ${i}`, category: "faults-lt", priceCents: 100 + i }, { timeoutMs: 10_000 });
        expect(created.status).toBe(201);
        ids.push((created.body as { id: string }).id);
      }
      const changed = await sendCommand(service.url, `/v1/products/${firstId}/price`, { priceCents: 777 });
      expect(changed.status).toBe(200);
      await sleep(1500);

      // Projections wait: nothing after the open transaction's xmin is applied, nothing skipped.
      for (const id of ids.slice(0, 3)) expect((await sendQuery(service.url, `/v1/products/${id}`)).status).toBe(404);
      expect(((await sendQuery(service.url, `/v1/products/${firstId}`)).body as { priceCents: number }).priceCents).toBe(100);
      const waited = await sendQuery(service.url, `/v1/products/${ids[0]}`, { headers: { "x-consistent-with": (changed.body as { position: string }).position } });
      expect(waited.status).toBe(503);
      expect(waited.headers?.get("retry-after")).toMatch(/^\d+$/);

      // What operators see meanwhile (asserted in the next test).
      const status = await sendQuery(service.url, "/v1/projections");
      expect(status.status).toBe(200);
      seen.catalog = (status.body as { items: StatusItem[] }).items.find((item) => item.name === "product_catalog") ?? null;
      const metrics = await sendQuery(service.url, "/metrics");
      expect(metrics.status).toBe(200);
      seen.metricsLag = String(metrics.body).split("\n").find((line) => line.startsWith('projection_lag_events{projection="product_catalog"')) ?? null;
      expect(seen.catalog).not.toBeNull();
      expect(seen.metricsLag).not.toBeNull();

      await holder.query("COMMIT");
    } finally {
      await holder.end();
    }

    // After COMMIT: every event applied, lag back to zero.
    const versions = streamVersions(await readEvents(databaseUrl));
    let behind: string[] = [];
    expect(await eventually(async () => (behind = await readModelLag(service.url, versions)).length === 0, { timeoutMs: 30_000, intervalMs: 250 }), behind.join("\n")).toBe(true);
    expect(((await sendQuery(service.url, `/v1/products/${firstId}`)).body as { priceCents: number }).priceCents).toBe(777);
    const settled = await eventually(async () => {
      const items = ((await sendQuery(service.url, "/v1/projections")).body as { items: StatusItem[] }).items;
      return items.every((item) => item.lagEvents === 0 && item.status === "running");
    }, { timeoutMs: 20_000, intervalMs: 250 });
    expect(settled).toBe(true);
  });

  // KNOWN BUG, see the fault-test report: src/projections/runner/status.ts measures lag up to
  // store.headPosition(), the newest event *visible* below the xmin horizon, so events hidden
  // behind an open transaction count as no lag (status "running", lagEvents 0, metric 0).
  // `it.fails` keeps CI green until status.ts counts every committed event after the
  // watermark; then this starts failing: turn it back into `it`.
  it("shows that lag in GET /v1/projections and /metrics while the transaction is open", () => {
    expect(seen.catalog, "the first test did not get that far").not.toBeNull();
    expect(seen.catalog!.lagEvents > 0 || seen.catalog!.status === "catching_up", JSON.stringify(seen.catalog)).toBe(true);
    expect(Number(seen.metricsLag!.split(" ").at(-1)), seen.metricsLag!).toBeGreaterThan(0);
  });
});
