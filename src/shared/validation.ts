/**
 * Schema validation that fails the house way: a ValidationError listing every issue with
 * its full dotted path (`lines.2.quantity`).
 */
import type { z } from "zod";
import { ValidationError, type Issue } from "./errors.ts";

/** Converts zod issues to problem+json issues with dotted paths (`body` for the root). */
export function toIssues(error: z.ZodError, root = ""): Issue[] {
  const dotted = (parts: readonly PropertyKey[]): string => [root, ...parts.map((part) => String(part))].filter(Boolean).join(".") || "(root)";
  // zod's int() checks the safe-integer range too: beside the field's own range, that issue
  // says the same thing again, naming an internal limit (9007199254740991).
  const paths = error.issues.map((issue) => dotted(issue.path));
  const safeRange = (issue: z.core.$ZodIssue): boolean =>
    (issue.code === "too_big" && issue.maximum === Number.MAX_SAFE_INTEGER) || (issue.code === "too_small" && issue.minimum === Number.MIN_SAFE_INTEGER);
  const repeated = (issue: z.core.$ZodIssue, index: number): boolean => safeRange(issue) && paths.some((path, other) => other !== index && path === paths[index]);
  return error.issues.filter((issue, index) => !repeated(issue, index)).flatMap((issue): Issue[] => {
    // An unknown field is reported at its own path, one issue per field.
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({ path: dotted([...issue.path, key]), message: "Unknown field" }));
    }
    return [{ path: dotted(issue.path), message: issue.message }];
  });
}

/** Parses input with a schema; throws ValidationError with every issue when it does not fit. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, root = ""): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(toIssues(result.error, root));
  return result.data;
}

/** One "Unknown field" issue per query parameter, for routes that take none. */
export function unknownQueryIssues(query: Readonly<Record<string, unknown>>): Issue[] {
  return Object.keys(query).map((name) => ({ path: `query.${name}`, message: "Unknown field" }));
}

/**
 * Runs a check; its ValidationError's issues go into `issues` (and the result is undefined)
 * so that a request's params, query, headers and body are all checked and a 400 lists every
 * issue. Any other error is thrown.
 */
export function collectIssues<T>(issues: Issue[], check: () => T): T | undefined {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    issues.push(...error.issues);
    return undefined;
  }
}
