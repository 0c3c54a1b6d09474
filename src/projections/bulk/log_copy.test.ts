import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresStore } from "../../event_store/postgres.ts";
import type { EventStore, NewEvent, RecordedEvent } from "../../event_store/types.ts";
import { START } from "../../shared/position.ts";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../../testing/db.ts";
import { readEverything } from "../runner/testing/fixtures.ts";
import { readLogRange } from "./log_copy.ts";

/** An event as plain data (what JSON carries), for comparing events read two ways. */
function plain(event: RecordedEvent): unknown {
  return JSON.parse(JSON.stringify(event, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value))) as unknown;
}

describe.skipIf(!databaseAvailable)(`bulk log reads${databaseAvailable ? "" : ` (${databaseSkipReason})`}`, () => {
  let db: TestDatabase | undefined;
  let store: EventStore | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = createPostgresStore(db.pool, { connectionString: db.url });
  });

  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it("reads every event of the range as the store's reader does: ids, streams, data and whole metadata; only asked types carry payloads", async () => {
    const events = (i: number): NewEvent[] => [
      {
        type: i % 3 === 0 ? "Other" : "Counted",
        data: { n: i, text: `é-${i}`, nested: { list: [i, null, true, 1.5] } },
        metadata: {
          occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
          correlationId: crypto.randomUUID(),
          causationId: i % 2 === 0 ? null : crypto.randomUUID(),
          ...(i % 4 === 1 ? { idempotencyKey: `key-${i}` } : {}),
        },
      },
    ];
    for (let i = 0; i < 40; i++) await store!.append(`counter-${i % 7}`, events(i), { expectedVersion: "any" });
    const all = await readEverything(store!, db!.pool);
    expect(all).toHaveLength(40);
    const client = await db!.pool.connect();
    try {
      const read: RecordedEvent[] = [];
      let counted = 0;
      for await (const chunk of readLogRange(client, { after: START, through: all.at(-1)!.position, types: new Set(["Counted"]), chunkEvents: 6 })) {
        counted += chunk.read;
        read.push(...chunk.events);
      }
      expect(counted).toBe(40);
      const wanted = all.filter((event) => event.type === "Counted");
      expect(read.map(plain)).toStrictEqual(wanted.map(plain));
      // Field by field too (the lazily decoded ones as getters).
      read.forEach((event, i) => {
        const expected = wanted[i]!;
        expect([event.eventId, event.streamId, event.streamVersion, event.type]).toStrictEqual([expected.eventId, expected.streamId, expected.streamVersion, expected.type]);
        expect(event.position).toStrictEqual(expected.position);
        expect(event.data).toStrictEqual(expected.data);
        const { occurredAt, correlationId, causationId, idempotencyKey } = event.metadata;
        expect({ occurredAt, correlationId, causationId, idempotencyKey }).toStrictEqual({ idempotencyKey: undefined, ...expected.metadata });
      });
    } finally {
      client.release(true);
    }
  });
});
