/**
 * Input schemas shared by the query routes. Query strings are strict: an unknown
 * parameter is a 400 (a misspelt filter never silently widens an answer), and a
 * parameter given twice is a 400 ("must be given once", see parseQueryInput).
 */
import { z } from "zod";
import { ValidationError, type Issue } from "../shared/errors.ts";
import { collectIssues, parseOrThrow, unknownQueryIssues } from "../shared/validation.ts";

/** A UUID path or query value, lower-cased (any 8-4-4-4-12 hex form is accepted). */
export const uuidSchema = z.guid("must be a UUID").toLowerCase();

/** A UUID in its canonical lower-case form (the value uuidSchema gives). */
export const LOWER_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A route's single UUID path parameter: a lower-case UUID is taken as it is (what the
 * schema would give), anything else goes through the schema (lower-casing, or its 400).
 */
export function uuidPathParam(params: Record<string, string>, name: string, schema: z.ZodType<Record<string, string>>): string {
  const value = params[name];
  if (value !== undefined && LOWER_UUID.test(value) && Object.keys(params).length === 1) return value;
  return parseOrThrow(schema, params, "params")[name] ?? "";
}

/**
 * The path parameters of a read that takes no query (a read by id or sku): any query
 * parameter is a 400 "Unknown field", listed with the path parameters' issues (as the
 * list reads' strict query schemas do).
 */
export function pathParamsWithoutQuery<T>(ctx: { querystring: string; query: Readonly<Record<string, unknown>> }, read: () => T): T {
  if (ctx.querystring === "") return read();
  const issues: Issue[] = [];
  const value = collectIssues(issues, read);
  issues.push(...unknownQueryIssues(ctx.query));
  if (issues.length > 0 || value === undefined) throw new ValidationError(issues);
  return value;
}

/**
 * Parses a route's input built from its query (`toInput`; the query itself by default), with a parameter given more than
 * once reported as such ("must be given once", its first value checked as usual) instead of
 * as a value of the wrong type; every issue in one ValidationError, as parseOrThrow.
 */
export function parseQueryInput<S extends z.ZodType>(schema: S, query: Readonly<Record<string, unknown>>, root: string, toInput: (query: Record<string, unknown>) => unknown = (once) => once): z.output<S> {
  const repeated: Issue[] = [];
  // No prototype, as koa's own query: a parameter named __proto__ stays a parameter (an unknown one).
  const once: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [name, value] of Object.entries(query)) {
    if (Array.isArray(value)) repeated.push({ path: `query.${name}`, message: "must be given once" });
    once[name] = Array.isArray(value) ? value[0] : value;
  }
  const issues: Issue[] = [];
  const value = collectIssues(issues, () => parseOrThrow(schema, toInput(once), root));
  // One issue for a repeated parameter: what its first value would also have said goes.
  const named = new Set(repeated.map((issue) => issue.path));
  const all = [...repeated, ...issues.filter((issue) => !named.has(issue.path))];
  if (all.length > 0) throw new ValidationError(all);
  return value as z.output<S>;
}

/**
 * PostgreSQL has no year 0 (it writes 1 BC as `0001 BC`) while ISO 8601, and zod, accept
 * `0000`: a date or time of that year is refused here, a 400 instead of the store's error.
 */
export function fromYearOne<T extends z.ZodType<string>>(schema: T): T {
  // Only for an otherwise well-formed value: a malformed one has its own issue.
  return schema.refine((text) => !text.startsWith("0000"), { message: "must be in year 0001 or later", when: (payload) => (payload.issues ?? []).length === 0 }) as unknown as T;
}

/** A product category, as the commands accept it. */
export const categorySchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "must be 1..64 of a-z, 0-9 and -, starting with a letter or digit");

/** The characters and length of a sku. */
export const SKU_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A product sku, as the commands accept it. */
export const skuSchema = z.string().regex(SKU_PATTERN, "must be 1..64 of A-Z, a-z, 0-9, '.', '_' and '-', starting with a letter or digit");

/**
 * A whole number in a query string, checked to lie in [min, max]. Documented in OpenAPI as the
 * integer it stands for (a query value is text on the wire; its schema says what it must read
 * as), with its default when it has one (zod leaves defaults out of an input schema).
 */
export function intParam(min: number, max: number, documentedDefault?: number): z.ZodType<number, string> {
  const range = `a whole number ${min}..${max}`;
  return z
    .string()
    .regex(/^\d{1,12}$/, `must be a whole number from ${min} to ${max}`)
    .meta({
      type: "integer", minimum: min, maximum: max, pattern: undefined,
      ...(documentedDefault === undefined ? { description: range } : { default: documentedDefault, description: `${range}, default ${documentedDefault}` }),
    })
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
}

/** A `limit` query parameter: 1..100 with a default. */
export function limitParam(defaultLimit: number): z.ZodDefault<z.ZodType<number, string>> {
  return intParam(1, 100, defaultLimit).default(defaultLimit);
}

/** An opaque pagination cursor as received (decoded by cursor.ts). */
export const cursorParam = z.string().min(1, "must not be empty").max(512, "is too long");
