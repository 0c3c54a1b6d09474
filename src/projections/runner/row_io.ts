/**
 * Reads and writes read-model rows with multi-row statements. Values read back as the
 * projection wrote them: int/bigint → number, timestamptz → ISO string with ms (UTC),
 * date → "YYYY-MM-DD", jsonb → JSON text, bytea → Buffer, boolean, text/uuid → string.
 */
import type { Pool, PoolClient } from "../../db/pool.ts";
import type { CellValue, ColumnType, Row, TableModel } from "../define.ts";
import { tableName } from "../define.ts";
import { named } from "../../db/statements.ts";

/** Quotes an SQL identifier. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function selectExpression(name: string, type: ColumnType): string {
  const column = ident(name);
  switch (type) {
    case "timestamptz":
      return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${column}`;
    case "date":
    case "jsonb":
    case "uuid":
    case "bigint":
      return `${column}::text AS ${column}`;
    default:
      return column;
  }
}

function fromDatabase(type: ColumnType, value: unknown): CellValue {
  if (value === null || value === undefined) return null;
  if (type === "bigint") {
    const number = Number(value);
    return Number.isSafeInteger(number) ? number : String(value);
  }
  return value as CellValue;
}

/** The SQL type of a table's key column. */
export function keyType(model: TableModel): ColumnType {
  return model.columns.find((column) => column.name === model.key)?.type ?? "text";
}

/** The select list that reads a table's columns in their projection form. */
export function selectList(model: TableModel): string {
  return model.columns.map((column) => selectExpression(column.name, column.type)).join(", ");
}

/** Converts a row as pg returned it (selected with selectList) to its projection form. */
export function rowFromDatabase(model: TableModel, raw: Record<string, unknown>): Row {
  const row: Row = {};
  for (const column of model.columns) row[column.name] = fromDatabase(column.type, raw[column.name]);
  return row;
}

/** The statement that loads and locks the rows whose keys are in `keys` (an SQL array expression: a parameter or arrayLiteral()). */
export function loadRowsSql(model: TableModel, version: number, keys: string): string {
  const table = ident(tableName(model.table, version));
  // Ordered by the table's column (t.key), not the select list's text alias of the same name.
  return `SELECT ${selectList(model)} FROM ${table} AS t WHERE t.${ident(model.key)} = ANY(${keys}::${keyType(model)}[]) ORDER BY t.${ident(model.key)} FOR UPDATE`;
}

/** key → row of rows read with loadRowsSql. */
export function rowsByKey(model: TableModel, raws: readonly Record<string, unknown>[]): Map<string, Row> {
  const rows = new Map<string, Row>();
  for (const raw of raws) {
    const row = rowFromDatabase(model, raw);
    rows.set(String(row[model.key]), row);
  }
  return rows;
}

/** The rows of a version's table with these keys, by key (no lock). */
export async function readRowsByKeys(pool: Pool, model: TableModel, version: number, keys: readonly string[]): Promise<Map<string, Row>> {
  const result = await pool.query<Record<string, unknown>>(
    `SELECT ${selectList(model)} FROM ${ident(tableName(model.table, version))} AS t WHERE t.${ident(model.key)} = ANY($1::${keyType(model)}[])`,
    [keys],
  );
  return rowsByKey(model, result.rows);
}

/**
 * A keyset page of a version's table: the first `limit` rows in key order after the key
 * `after` (null: from the first). In the key column's own order (t.key: the select list
 * aliases a text form of it under the same name), so each page is an index range scan.
 */
export async function readKeysetPage(pool: Pool, model: TableModel, version: number, after: string | null, limit: number): Promise<Row[]> {
  const key = ident(model.key);
  const result = await pool.query<Record<string, unknown>>(
    `SELECT ${selectList(model)} FROM ${ident(tableName(model.table, version))} AS t
      ${after === null ? "" : `WHERE t.${key} > $1::${keyType(model)}`} ORDER BY t.${key} LIMIT ${limit}`,
    after === null ? [] : [after],
  );
  return result.rows.map((raw) => rowFromDatabase(model, raw));
}

/** An SQL text-array literal of `values` ('{"a","b"}', quoted and escaped), to inline where no parameter can go. */
export function arrayLiteral(client: PoolClient, values: readonly string[]): string {
  return client.escapeLiteral(`{${values.map((value) => `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`).join(",")}}`);
}

function toParameter(type: ColumnType, value: CellValue | undefined): unknown {
  if (value === undefined || value === null) return null;
  if (type === "jsonb" && typeof value !== "string") return JSON.stringify(value);
  return value;
}

/**
 * Upserts rows with one INSERT … SELECT FROM unnest(…) ON CONFLICT statement. bytea values
 * travel as one binary parameter (all of them concatenated) plus offsets and lengths, cut
 * apart by the server with substring(): an array literal would carry them as hex text,
 * twice their size, for the driver to write and the server to parse.
 */
export async function upsertRows(client: PoolClient, model: TableModel, version: number, rows: readonly Row[]): Promise<void> {
  if (rows.length === 0) return;
  const table = ident(tableName(model.table, version));
  const names = model.columns.map((column) => ident(column.name)).join(", ");
  // $1 is the bytea blob when the table has bytea columns (filled in at the end).
  const binary: Buffer[] = [];
  let binaryLength = 0;
  const hasBinary = model.columns.some((column) => column.type === "bytea");
  const values: unknown[] = hasBinary ? [null] : [];
  const unnested: string[] = [];
  const aliases: string[] = [];
  const selected: string[] = [];
  for (const [i, column] of model.columns.entries()) {
    if (column.type !== "bytea") {
      values.push(rows.map((row) => toParameter(column.type, row[column.name])));
      unnested.push(`$${values.length}::${column.type}[]`);
      aliases.push(`c${i}`);
      selected.push(`c${i}`);
      continue;
    }
    const offsets: (number | null)[] = [];
    const lengths: (number | null)[] = [];
    for (const row of rows) {
      const value = row[column.name];
      const bytes = value === null || value === undefined ? null : Buffer.isBuffer(value) ? value : Buffer.from(String(value));
      offsets.push(bytes === null ? null : binaryLength + 1);
      lengths.push(bytes?.length ?? null);
      if (bytes === null) continue;
      binary.push(bytes);
      binaryLength += bytes.length;
    }
    values.push(offsets, lengths);
    unnested.push(`$${values.length - 1}::int[]`, `$${values.length}::int[]`);
    aliases.push(`o${i}`, `l${i}`);
    // substring() is strict: a NULL offset/length (a NULL value) gives NULL.
    selected.push(`substring($1::bytea FROM o${i} FOR l${i})`);
  }
  if (hasBinary) values[0] = Buffer.concat(binary, binaryLength);
  const updates = model.columns
    .filter((column) => column.name !== model.key)
    .map((column) => `${ident(column.name)} = excluded.${ident(column.name)}`);
  const conflict = updates.length > 0 ? `DO UPDATE SET ${updates.join(", ")}` : "DO NOTHING";
  // Prepared once per connection: a live task's upsert of a row or two was planned at every call.
  await client.query(
    named(`INSERT INTO ${table} (${names}) SELECT ${selected.join(", ")} FROM unnest(${unnested.join(", ")}) AS u(${aliases.join(", ")}) ON CONFLICT (${ident(model.key)}) ${conflict}`, values),
  );
}

/** Deletes rows by key with one statement. */
export async function deleteRows(client: PoolClient, model: TableModel, version: number, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  const table = ident(tableName(model.table, version));
  await client.query(named(`DELETE FROM ${table} WHERE ${ident(model.key)} = ANY($1::${keyType(model)}[])`, [keys]));
}

/** True when two rows hold the same values in every column of the model. */
export function sameRow(model: TableModel, a: Row, b: Row): boolean {
  for (const column of model.columns) {
    const x = a[column.name] ?? null;
    const y = b[column.name] ?? null;
    if (Buffer.isBuffer(x) && Buffer.isBuffer(y)) {
      if (!x.equals(y)) return false;
    } else if (x !== y) return false;
  }
  return true;
}
