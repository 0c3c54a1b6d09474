/**
 * PostgreSQL stopped during a command load: commands answer 503 with Retry-After (never
 * 500, never hang), nothing acknowledged is lost, nothing is half-applied, and once
 * PostgreSQL is back the same service process recovers and its projections catch up.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, sendCommand, sendQuery, sleep } from "./support/client.ts";
import type { PostgresServer } from "./support/postgres_server.ts";
import type { ServiceProcess } from "../testing/service_process.ts";
import { faultStackSkipReason, startFaultStack, type FaultStack } from "./support/stack.ts";
import { exactlyOnceProblems, halfAppliedProblems, readEvents, readModelLag, readTableLag, streamVersions } from "./support/store_check.ts";
import { acknowledged, runLoad, type LedgerEntry } from "./support/workload.ts";

const skip = faultStackSkipReason();

/** Sends each command again with its Idempotency-Key; every one must get a final answer (no 5xx, no network error). */
async function retryWithSameKeys(base: string, entries: readonly LedgerEntry[]): Promise<LedgerEntry[]> {
  const retried: LedgerEntry[] = [];
  for (const entry of entries) retried.push({ ...entry, answer: await sendCommand(base, entry.path, entry.body, { key: entry.key }) });
  expect(retried.filter((entry) => entry.answer.status >= 500 || entry.answer.status === 0).map((entry) => `${entry.path} → ${entry.answer.status}`)).toEqual([]);
  return retried;
}

describe.skipIf(skip !== null)(`PostgreSQL outage under command load${skip ? ` (${skip})` : ""}`, () => {
  let postgres: PostgresServer;
  let service: ServiceProcess;
  let databaseUrl = "";
  let stack: FaultStack | undefined;
  beforeAll(async () => {
    stack = await startFaultStack();
    ({ postgres, service, databaseUrl } = stack);
  });
  afterAll(async () => stack?.stop());

  it("answers 503 + Retry-After meanwhile, loses nothing acknowledged, and recovers without a restart", { timeout: 150_000 }, async () => {
    const load = runLoad({ base: () => service.url, lanes: 4, maxCommandsPerLane: 400, durationMs: 14_000, runId: "pgdown", timeoutMs: 20_000 });
    await sleep(3000);
    await postgres.stop();
    const down = performance.now();
    await sleep(1500);
    const readyWhileDown = await sendQuery(service.url, "/readyz", { timeoutMs: 10_000 });
    await sleep(2500);
    await postgres.start();
    const ledger = await load;

    // Meanwhile: 503 with Retry-After, never 500, never a hang (an answer within the bound).
    expect(readyWhileDown.status).toBe(503);
    const failures = ledger.filter((entry) => entry.answer.status === 0 || (entry.answer.status >= 500 && entry.answer.status !== 503));
    expect(failures.map((entry) => `${entry.path} → ${entry.answer.status} ${entry.answer.error ?? JSON.stringify(entry.answer.body)}`)).toEqual([]);
    const unavailable = ledger.filter((entry) => entry.answer.status === 503);
    expect(unavailable.length).toBeGreaterThan(0);
    for (const entry of unavailable) {
      expect(entry.answer.headers?.get("retry-after")).toMatch(/^\d+$/);
      expect((entry.answer.body as { type?: string }).type).toBe("unavailable");
    }
    const slowest = Math.max(...ledger.map((entry) => entry.answer.ms));
    expect(slowest).toBeLessThan(15_000);
    const unexpected = ledger.filter((entry) => entry.answer.status >= 400 && entry.answer.status < 500 && entry.answer.status !== 422);
    expect(unexpected.map((entry) => `${entry.path} → ${entry.answer.status} ${JSON.stringify(entry.answer.body)}`)).toEqual([]);

    // Recovery without a restart: the same process answers 2xx and /readyz 200 again.
    const recovered = await eventually(async () => (await sendQuery(service.url, "/readyz")).status === 200, { timeoutMs: 30_000 });
    expect(recovered, `not ready ${Math.round((performance.now() - down) / 1000)} s after the outage began:\n${service.logs.slice(-20).join("\n")}`).toBe(true);
    expect(ledger.filter((entry) => acknowledged(entry) && entry.answer.ms > 0).length).toBeGreaterThan(0);

    // A client retries every 503 with the same Idempotency-Key: each now gets a final answer.
    const retried = await retryWithSameKeys(service.url, unavailable);
    expect(retried.filter(acknowledged).length).toBeGreaterThan(0);

    const events = await readEvents(databaseUrl);
    expect(exactlyOnceProblems([...ledger, ...retried], events)).toEqual([]);
    expect(halfAppliedProblems(events)).toEqual([]);

    // Projections catch up: every product and order read model shows its stream's version.
    const versions = streamVersions(events);
    let behind: string[] = [];
    const caughtUp = await eventually(async () => (behind = await readModelLag(service.url, versions)).length === 0, { timeoutMs: 60_000, intervalMs: 500 });
    expect(caughtUp, behind.slice(0, 10).join("\n")).toBe(true);
    console.info(`postgres outage: ${ledger.length} commands (${ledger.filter(acknowledged).length} acknowledged, ${unavailable.length} answered 503, slowest ${Math.round(slowest)} ms), ${retried.filter(acknowledged).length} retries acknowledged, ${events.length} events`);
    const fresh = await sendCommand(service.url, "/v1/products", { sku: "AFTER-OUTAGE", name: "After", category: "faults", priceCents: 1 });
    expect(fresh.status).toBe(201);
  });

  it("after a crash of PostgreSQL (immediate shutdown, unwritten WAL lost) the same process loses no committed read-model work", { timeout: 150_000 }, async () => {
    // Unlike a fast shutdown, WAL not yet written is lost (the watermark's asynchronous writes,
    // anything in flight), every session dies, and start-up runs crash recovery: the runner must
    // resume from what PostgreSQL kept, not from what it had announced in memory.
    const load = runLoad({ base: () => service.url, lanes: 4, maxCommandsPerLane: 5000, durationMs: 8_000, runId: "pgcrash", timeoutMs: 20_000 });
    await sleep(3000);
    await postgres.crash();
    await sleep(1500);
    await postgres.start();
    const ledger = await load;
    expect(ledger.filter((entry) => entry.answer.status === 0 || (entry.answer.status >= 500 && entry.answer.status !== 503)).map((entry) => `${entry.path} → ${entry.answer.status}`)).toEqual([]);
    expect(await eventually(async () => (await sendQuery(service.url, "/readyz")).status === 200, { timeoutMs: 30_000 })).toBe(true);

    // A client retries every 503 with the same Idempotency-Key (a create cut off between its sku
    // reservation and its product completes so, as in the outage above).
    const retried = await retryWithSameKeys(service.url, ledger.filter((entry) => entry.answer.status === 503));

    const events = await readEvents(databaseUrl);
    expect(exactlyOnceProblems([...ledger, ...retried], events)).toEqual([]);
    expect(halfAppliedProblems(events)).toEqual([]);
    const versions = streamVersions(events);
    let behind: string[] = [];
    const caughtUp = await eventually(async () => (behind = [...(await readModelLag(service.url, versions)), ...(await readTableLag(databaseUrl, versions))]).length === 0, { timeoutMs: 60_000, intervalMs: 500 });
    expect(caughtUp, behind.slice(0, 10).join("\n")).toBe(true);
    console.info(`postgres crash: ${ledger.length} commands (${ledger.filter(acknowledged).length} acknowledged, ${retried.length} retried after a 503), ${events.length} events, ${versions.size} streams checked in the views and the read tables`);
  });
});
