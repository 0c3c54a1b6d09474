/**
 * Checks on what the event store holds after a fault: every acknowledged command applied
 * exactly once, no product half-created, and the read models reflecting every stream.
 */
import pg from "pg";
import { decodePayload } from "../../event_store/codec.ts";
import type { EventMetadata } from "../../event_store/types.ts";
import { readTable } from "../../shared/read_models.ts";
import { sendQuery } from "./client.ts";
import { acknowledged, type LedgerEntry } from "./workload.ts";

/** One stored event, decoded. */
export interface StoredEvent {
  streamId: string;
  version: number;
  type: string;
  data: Record<string, unknown>;
  key: string | undefined;
}

/** Reads every event of a database in global order, decoded. */
export async function readEvents(databaseUrl: string): Promise<StoredEvent[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const result = await client.query<{ stream_id: string; stream_version: string; type: string; data: Buffer; metadata: Buffer }>(
      "SELECT stream_id, stream_version, type, data, metadata FROM events ORDER BY transaction_id, global_position",
    );
    return result.rows.map((row) => ({
      streamId: row.stream_id,
      version: Number(row.stream_version),
      type: row.type,
      data: decodePayload(row.data),
      // As the client sent it (the store keeps it behind its client's tag: clientKey).
      key: decodePayload<EventMetadata>(row.metadata).idempotencyKey?.replace(/^[^\t]*\t/, ""),
    }));
  } finally {
    await client.end();
  }
}

/** Problems with "every acknowledged command is stored exactly once, none more than once". */
export function exactlyOnceProblems(ledger: readonly LedgerEntry[], events: readonly StoredEvent[]): string[] {
  const counts = new Map<string, number>();
  for (const event of events) {
    if (event.key === undefined) continue;
    const id = `${event.key}|${event.streamId}|${event.type}`;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const problems: string[] = [];
  const byKey = new Map<string, LedgerEntry[]>();
  for (const entry of ledger) byKey.set(entry.key, [...(byKey.get(entry.key) ?? []), entry]);
  for (const [key, entries] of byKey) {
    const first = entries[0]!;
    const count = counts.get(`${key}|${first.streamId}|${first.eventType}`) ?? 0;
    if (entries.some(acknowledged) && count !== 1) problems.push(`${first.path} key ${key}: acknowledged, stored ${count} times`);
    if (count > 1) problems.push(`${first.path} key ${key}: stored ${count} times`);
  }
  return [...new Set(problems)];
}

/** Problems with "a product exists exactly when its sku is reserved for it". */
export function halfAppliedProblems(events: readonly StoredEvent[]): string[] {
  const holder = new Map<string, string | null>();
  const created = new Map<string, string>();
  for (const event of events) {
    if (event.type === "SkuReserved") holder.set(String(event.data["sku"]), String(event.data["productId"]));
    if (event.type === "SkuReleased") holder.set(String(event.data["sku"]), null);
    if (event.type === "ProductCreated") created.set(String(event.data["productId"]), String(event.data["sku"]));
  }
  const problems: string[] = [];
  for (const [productId, sku] of created) {
    if (holder.get(sku) !== productId) problems.push(`product ${productId} exists but sku ${sku} is held by ${holder.get(sku) ?? "nobody"}`);
  }
  for (const [sku, productId] of holder) {
    if (productId !== null && !created.has(productId)) problems.push(`sku ${sku} is reserved for ${productId}, which was never created`);
  }
  return problems;
}

/** The current version of every product and order stream. */
export function streamVersions(events: readonly StoredEvent[]): Map<string, number> {
  const versions = new Map<string, number>();
  for (const event of events) if (/^(product|order)-/.test(event.streamId)) versions.set(event.streamId, event.version);
  return versions;
}

/** Streams whose read model (GET by id) does not show the stream's version yet. */
export async function readModelLag(base: string, versions: ReadonlyMap<string, number>): Promise<string[]> {
  const behind: string[] = [];
  for (const [streamId, version] of versions) {
    const [kind, ...rest] = streamId.split("-");
    const answer = await sendQuery(base, `/v1/${kind}s/${rest.join("-")}`, { timeoutMs: 5000 });
    const seen = (answer.body as { version?: number } | null)?.version;
    if (answer.status !== 200 || seen !== version) behind.push(`${streamId}: stream version ${version}, read model ${answer.status} v${seen ?? "-"}`);
  }
  return behind;
}

/**
 * Product and order streams whose row in the serving version's PostgreSQL read table does
 * not carry the stream's version (the Redis views can be right while a row is not: a lost
 * commit shows here first, and in the views once the next event folds from that row).
 */
export async function readTableLag(databaseUrl: string, versions: ReadonlyMap<string, number>): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const active = new Map((await client.query<{ name: string; version: number }>("SELECT name, version FROM projection_active")).rows.map((row) => [row.name, row.version]));
    const rows = new Map<string, number>();
    for (const [kind, projection, table] of [["order", "orders", "orders"], ["product", "product_catalog", "products"]] as const) {
      const version = active.get(projection);
      if (version === undefined) continue;
      for (const row of (await client.query<{ id: string; version: number }>(`SELECT id::text AS id, version FROM ${readTable(table, version)}`)).rows) rows.set(`${kind}-${row.id}`, row.version);
    }
    const behind: string[] = [];
    for (const [streamId, version] of versions) if (rows.get(streamId) !== version) behind.push(`${streamId}: stream version ${version}, read table v${rows.get(streamId) ?? "-"}`);
    return behind;
  } finally {
    await client.end();
  }
}
