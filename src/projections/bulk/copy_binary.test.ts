import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, databaseAvailable, databaseSkipReason, type TestDatabase } from "../../testing/db.ts";
import type { Row, TableModel } from "../define.ts";
import { upsertRows } from "../runner/row_io.ts";
import { canonicalIsoMicros, CopyBinaryReader, CopyBinaryWriter, timestampMicros, Tuple, uuidText, writeUuid } from "./copy_binary.ts";

const model: TableModel = {
  table: "everything",
  key: "id",
  columns: [
    { name: "id", type: "text" },
    { name: "u", type: "uuid" },
    { name: "i", type: "int" },
    { name: "b", type: "bigint" },
    { name: "ts", type: "timestamptz" },
    { name: "d", type: "date" },
    { name: "bytes", type: "bytea" },
    { name: "flag", type: "boolean" },
    { name: "doc", type: "jsonb" },
  ],
  indexes: () => [],
};

const rows: Row[] = [
  { id: "a", u: "6f1c2a4e-8d7b-4b53-9a3e-0c2d1e5f7a90", i: -2147483648, b: -9007199254740991, ts: "2026-11-21T10:15:30.123Z", d: "2026-02-28", bytes: Buffer.from([0, 1, 255]), flag: true, doc: '{"x": [1, "ü"]}' },
  { id: "b — ünïcode ✓", u: "6F1C2A4E-8D7B-4B53-9A3E-0C2D1E5F7A91", i: 2147483647, b: "9223372036854775807", ts: "1999-12-31T23:59:59.999999Z", d: "1970-01-01", bytes: Buffer.alloc(0), flag: false, doc: { nested: { y: null } } as unknown as string },
  { id: "c", u: null, i: null, b: null, ts: "2024-02-29T12:00:00+05:30", d: null, bytes: null, flag: null, doc: null },
  { id: "d", u: "00000000-0000-0000-0000-000000000000", i: "42", b: "-1", ts: "1900-01-01 00:00:00.5-08", d: "2000-01-01", bytes: Buffer.alloc(70_000, 7), flag: true, doc: "[]" },
];

describe.skipIf(!databaseAvailable)(`binary COPY${databaseAvailable ? "" : ` (${databaseSkipReason})`}`, () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
    for (const table of ["everything_v1", "everything_v2"]) {
      await db.pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY, u uuid, i int, b bigint, ts timestamptz, d date, bytes bytea, flag boolean, doc jsonb)`);
    }
  });

  afterAll(async () => db?.drop());

  it("writes every column type as the upsert path stores it", async () => {
    const writer = new CopyBinaryWriter(model, 64);
    for (const row of rows) writer.add(row);
    expect(writer.rows).toBe(rows.length);
    const client = await db.pool.connect();
    try {
      await pipeline(Readable.from([writer.end()]), client.query(copyFrom(`COPY everything_v1 (${model.columns.map((c) => c.name).join(", ")}) FROM STDIN (FORMAT binary)`)));
      await upsertRows(client, model, 2, rows);
    } finally {
      client.release();
    }
    const dump = async (table: string): Promise<string[]> => (await db.pool.query<{ line: string }>(`SELECT t::text AS line FROM ${table} t ORDER BY id`)).rows.map((row) => row.line);
    expect(await dump("everything_v1")).toEqual(await dump("everything_v2"));
    const micros = await db.pool.query<{ us: string }>("SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS us FROM everything_v1 WHERE id LIKE 'b%'");
    expect(micros.rows[0]!.us).toBe("1999-12-31 23:59:59.999999");
  });

  it("refuses values PostgreSQL would refuse, instead of storing something else", () => {
    const writer = new CopyBinaryWriter(model);
    const base = rows[0]!;
    expect(() => writer.add({ ...base, d: "2026-02-30" })).toThrow(/cannot encode/);
    expect(() => writer.add({ ...base, i: "1.0" })).toThrow(/cannot encode/);
    expect(() => writer.add({ ...base, i: "" })).toThrow(/cannot encode/);
    expect(() => writer.add({ ...base, ts: "2026-11-21T10:15:30" })).toThrow(/cannot encode/);
    expect(() => writer.add({ ...base, ts: "2026-02-30T10:15:30Z" })).toThrow(/cannot encode/);
    expect(() => writer.add({ ...base, u: "not-a-uuid" })).toThrow(/cannot encode/);
    expect(() => writer.add({ ...base, u: "6f1c2a4e_8d7b-4b53-9a3e-0c2d1e5f7a91" })).toThrow(/cannot encode/);
    expect(() => writer.add({ ...base, u: "6f1c2a4e-8d7b-4b53-9a3e-0c2d1e5f7a9g" })).toThrow(/cannot encode/);
    expect(() => writer.add({ ...base, ts: "2026-02-29T10:15:30.000Z" })).toThrow(/cannot encode/);
    expect(() => writer.add({ ...base, ts: "2026-11-21T24:00:00.000Z" })).toThrow(/cannot encode/);
    expect(timestampMicros("2000-01-01T00:00:00.000001Z")).toBe(1n);
    expect(timestampMicros("1999-12-31T23:59:59Z")).toBe(-1_000_000n);
  });

  it("reads canonical ISO timestamps digit by digit exactly as the general parser does", () => {
    const texts = ["2000-01-01T00:00:00.000Z", "1999-12-31T23:59:59.999Z", "2024-02-29T12:00:00.001Z", "1970-01-01T00:00:00.000Z", "2262-04-11T23:47:16.854Z"];
    for (let i = 0; i < 2000; i++) texts.push(new Date(Math.floor((Math.random() - 0.3) * 8e12)).toISOString());
    for (const text of texts) expect(BigInt(canonicalIsoMicros(text)!)).toBe(timestampMicros(text));
    // Anything else is left to the general parser (which refuses what PostgreSQL would).
    for (const text of ["2023-02-29T00:00:00.000Z", "1900-02-29T00:00:00.000Z", "2026-13-01T00:00:00.000Z", "2026-11-21T10:15:30Z", "2026-11-21T10:15:30.000+01:00", "2026-11-21 10:15:30.000Z", "2026-11-2aT10:15:30.000Z"]) {
      expect(canonicalIsoMicros(text)).toBeNull();
    }
    expect(canonicalIsoMicros("2000-02-29T00:00:00.000Z")).toBe(59 * 86_400_000_000);
  });

  it("writes uuids of either case to the same 16 bytes", () => {
    const lower = Buffer.alloc(16);
    const upper = Buffer.alloc(16);
    expect(writeUuid(lower, 0, "6f1c2a4e-8d7b-4b53-9a3e-0c2d1e5f7a91")).toBe(true);
    expect(writeUuid(upper, 0, "6F1C2A4E-8D7B-4B53-9A3E-0C2D1E5F7A91")).toBe(true);
    expect(lower).toEqual(upper);
    const tuple = new Tuple();
    tuple.reset(lower, 1);
    tuple.set(0, 0, 16);
    expect(uuidText(tuple.bytes, tuple.start(0))).toBe("6f1c2a4e-8d7b-4b53-9a3e-0c2d1e5f7a91");
    for (const bad of ["6f1c2a4e-8d7b-4b53-9a3e-0c2d1e5f7a9", "6f1c2a4e8-d7b-4b53-9a3e-0c2d1e5f7a91", "6f1c2a4e-8d7b-4b53-9a3e-0c2d1e5f7aé1"]) expect(writeUuid(Buffer.alloc(16), 0, bad)).toBe(false);
  });

  it("reads a COPY stream into tuples whatever its chunking", async () => {
    const client = await db.pool.connect();
    const chunks: Buffer[] = [];
    try {
      const stream = client.query(copyTo("COPY (SELECT id, u, b, bytes FROM everything_v1 ORDER BY id) TO STDOUT (FORMAT binary)"));
      for await (const chunk of stream) chunks.push(chunk as Buffer);
    } finally {
      client.release();
    }
    const whole = Buffer.concat(chunks);
    for (const size of [1, 7, 4096, whole.length]) {
      const tuples: { fields: (Buffer | null)[]; id: string; uuid: string | null; big: number | null }[] = [];
      const reader = new CopyBinaryReader((tuple) =>
        tuples.push({
          // Copied: the tuple and its bytes are only valid during the call.
          fields: Array.from({ length: tuple.count }, (_, i) => {
            const field = tuple.field(i);
            return field === null ? null : Buffer.from(field);
          }),
          id: tuple.text(0),
          uuid: tuple.length(1) < 0 ? null : uuidText(tuple.bytes, tuple.start(1)),
          // Row a's bigint is -(2^53 - 1); b's is past 2^53 (int8 refuses it), c's is NULL.
          big: tuple.text(0) === "a" ? tuple.int8(2) : null,
        }),
      );
      for (let offset = 0; offset < whole.length; offset += size) reader.push(whole.subarray(offset, offset + size));
      expect(reader.ended).toBe(true);
      expect(tuples.map((tuple) => tuple.id)).toEqual(["a", "b — ünïcode ✓", "c", "d"]);
      expect(tuples.map((tuple) => tuple.fields[0]!.toString("utf8"))).toEqual(["a", "b — ünïcode ✓", "c", "d"]);
      expect(tuples[1]!.uuid).toBe("6f1c2a4e-8d7b-4b53-9a3e-0c2d1e5f7a91");
      expect(tuples[2]!.fields[1]).toBeNull();
      expect(tuples[2]!.uuid).toBeNull();
      expect(tuples[0]!.big).toBe(-9007199254740991);
      expect(tuples[3]!.fields[3]!.length).toBe(70_000);
    }
  });
});
