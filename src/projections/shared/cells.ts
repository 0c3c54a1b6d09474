/**
 * Reading row cells tolerantly: a row may come from this projection (as written) or
 * from PostgreSQL through the runner (bigint as number or text, timestamptz as ISO
 * text or Date, jsonb as text or object). Every reader returns one canonical form.
 */
import type { CellValue, Row } from "../define.ts";

/** A cell as a number (bigint text accepted); 0 when absent. */
export function cellNumber(row: Row, name: string): number {
  const value: unknown = row[name];
  if (typeof value === "number") return value;
  if (typeof value === "string" && value !== "") return Number(value);
  return 0;
}

/** A cell as a string; "" when absent. */
export function cellString(row: Row, name: string): string {
  const value: unknown = row[name];
  if (typeof value === "string") return value;
  if (value === null || value === undefined) return "";
  return String(value);
}

/** A timestamp cell as ISO 8601 UTC with milliseconds. */
export function cellIso(row: Row, name: string): string {
  const value: unknown = row[name];
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "string") return isoOf(value);
  return "";
}

/** Normalizes a timestamp text (ISO or PostgreSQL text form) to ISO 8601 UTC with ms. */
export function isoOf(text: string): string {
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(text)) return text;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? text : date.toISOString();
}

/** A jsonb cell (text or already parsed) as a value; null when absent. */
export function cellJson(row: Row, name: string): unknown {
  const value: unknown = row[name];
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return JSON.parse(value) as unknown;
  if (Buffer.isBuffer(value)) return JSON.parse(value.toString("utf8")) as unknown;
  return value;
}

/** A bytea cell as a Buffer, or null. */
export function cellBuffer(row: Row, name: string): Buffer | null {
  const value: CellValue | undefined = row[name];
  return Buffer.isBuffer(value) ? value : null;
}
