/** Command line → bench options: `npm run bench -- [scenario...] [--duration 10] [--connections 64] [--rate 1000] [--soak-minutes 10] [--events N] [--products N] ...`. */
import { parseArgs } from "node:util";
import type { BenchOptions } from "./types.ts";

export interface BenchCommand {
  scenarios: string[];
  writeResults: boolean;
  list: boolean;
  options: BenchOptions;
}

/** Parses argv (without node and script); numbers are validated, connections may be a comma list. */
export function parseBenchArgs(argv: string[], env: Record<string, string | undefined> = process.env): BenchCommand {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      duration: { type: "string" },
      rate: { type: "string" },
      "soak-minutes": { type: "string" },
      connections: { type: "string" },
      events: { type: "string" },
      products: { type: "string" },
      rows: { type: "string" },
      "body-bytes": { type: "string" },
      url: { type: "string" },
      token: { type: "string" },
      projection: { type: "string" },
      smoke: { type: "boolean", default: false },
      "write-results": { type: "boolean", default: false },
      list: { type: "boolean", default: false },
      quiet: { type: "boolean", default: false },
    },
  });
  const number = (name: string, text: string | undefined, fallback: number, max: number): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0 || value > max) throw new Error(`--${name} must be a number in (0, ${max}]`);
    return value;
  };
  const smoke = values.smoke === true;
  const durationS = number("duration", values.duration, smoke ? 1 : 10, 3600);
  const connections = (values.connections ?? (smoke ? "4" : "32,128")).split(",").map((part) => number("connections", part, 32, 4096));
  if (values.url !== undefined && !/^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?\/?$/.test(values.url)) throw new Error("--url must be http://127.0.0.1:<port>");
  return {
    scenarios: positionals,
    writeResults: values["write-results"] === true,
    list: values.list === true,
    options: {
      durationS,
      durationSet: values.duration !== undefined,
      rate: values.rate === undefined ? null : number("rate", values.rate, 1000, 100_000),
      soakMinutes: values["soak-minutes"] === undefined ? null : number("soak-minutes", values["soak-minutes"], 10, 1440),
      connections,
      events: Math.round(number("events", values.events, smoke ? 2_000 : 1_000_000, 100_000_000)),
      products: values.products === undefined ? null : Math.round(number("products", values.products, 500, 1_000_000)),
      rows: Math.round(number("rows", values.rows, smoke ? 5_000 : 1_000_000, 100_000_000)),
      bodyBytes: Math.round(number("body-bytes", values["body-bytes"], 1024, 10_000_000)),
      url: values.url?.replace(/\/$/, "") ?? null,
      token: values.token ?? null,
      projection: values.projection ?? null,
      databaseUrl: env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres",
      smoke: smoke || durationS < 5,
      log: values.quiet === true ? () => undefined : (line) => process.stderr.write(`${line}\n`),
    },
  };
}
