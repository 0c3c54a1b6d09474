/**
 * Finds the keys a JSON text gives more than once in one object. JSON.parse keeps the last
 * of them silently, so `{"priceCents":5,"priceCents":6}` would change a price to 6 with no
 * word to a client that meant 5: a body that says two things is refused instead (RFC 8259
 * leaves such objects' meaning to the receiver). Keys are compared as JSON.parse reads them
 * (`"a"` and `"\u0061"` are the same key).
 */
import type { Issue } from "../shared/errors.ts";

const OPEN_OBJECT = 0x7b; // {
const CLOSE_OBJECT = 0x7d; // }
const OPEN_ARRAY = 0x5b; // [
const CLOSE_ARRAY = 0x5d; // ]
const COMMA = 0x2c;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

interface ObjectFrame {
  keys: Set<string>;
  /** The key whose value is being read (the path segment into this object). */
  key: string;
}
interface ArrayFrame {
  index: number;
}
type Frame = ObjectFrame | ArrayFrame;

/** The path of `key` in the innermost object, as issue paths are written (`lines.2.quantity`). */
function pathOf(stack: readonly Frame[], key: string): string {
  const segments: string[] = [];
  for (let i = 0; i < stack.length - 1; i++) {
    const frame = stack[i]!;
    segments.push("keys" in frame ? frame.key : String(frame.index));
  }
  segments.push(key);
  return segments.join(".");
}

/**
 * One issue per key repeated within an object of `text`, which must be valid JSON (call it
 * after JSON.parse succeeded): a single pass over the text, no second parse.
 */
export function duplicateKeyIssues(text: string): Issue[] {
  const issues: Issue[] = [];
  const stack: Frame[] = [];
  let expectKey = false;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      const start = i;
      let escaped = false;
      for (i++; i < length; i++) {
        const c = text.charCodeAt(i);
        if (c === BACKSLASH) {
          escaped = true;
          i++;
        } else if (c === QUOTE) break;
      }
      if (!expectKey) continue;
      expectKey = false;
      const frame = stack[stack.length - 1] as ObjectFrame;
      const key = escaped ? (JSON.parse(text.slice(start, i + 1)) as string) : text.slice(start + 1, i);
      if (frame.keys.has(key)) {
        const path = pathOf(stack, key);
        if (!issues.some((issue) => issue.path === path)) issues.push({ path, message: "is given more than once" });
      } else frame.keys.add(key);
      frame.key = key;
    } else if (code === OPEN_OBJECT) {
      stack.push({ keys: new Set(), key: "" });
      expectKey = true;
    } else if (code === OPEN_ARRAY) {
      stack.push({ index: 0 });
      expectKey = false;
    } else if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) {
      stack.pop();
      expectKey = false;
    } else if (code === COMMA) {
      const frame = stack[stack.length - 1];
      if (frame !== undefined && "keys" in frame) expectKey = true;
      else if (frame !== undefined) frame.index++;
    }
  }
  return issues;
}
