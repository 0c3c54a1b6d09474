/**
 * Conditional and compressed answers for queries: every 200 carries a strong ETag and
 * `Cache-Control: no-cache` (caches may store it but must revalidate); a matching
 * `If-None-Match` answers 304 with no body; bodies over 1 KiB are compressed when the
 * client accepts gzip or br (a precomputed gzip is used as it is), with
 * `Vary: Accept-Encoding`. A strong ETag names one representation (RFC 9110 8.8.3), so a
 * compressed answer's ETag is the identity bytes' with the coding appended inside the quotes
 * (`"abc"`, `"abc-gzip"`, `"abc-br"`, as Apache httpd does); If-None-Match matches any of
 * the three, and a 304 carries the one a 200 would have.
 */
import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { promisify } from "node:util";
import { brotliCompress, constants, gzip } from "node:zlib";
import type { Context } from "koa";

/** Bodies larger than this many bytes are compressed when the client accepts it. */
export const COMPRESS_THRESHOLD = 1024;

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

/** A JSON answer whose bytes and etag are ready; `gzip` is an optional precomputed gzip of `body`. */
export interface PreparedAnswer {
  etag: string;
  body: Buffer;
  gzip?: Buffer | null;
}

export type Encoding = "br" | "gzip";

/** A quoted strong etag derived from the bytes (for answers built per request, like lists). */
export function bodyEtag(body: Buffer): string {
  return `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
}

/** The ETag of an answer's bytes sent with a content coding: the coding appended inside the quotes (null: the identity etag). */
export function encodedEtag(etag: string, encoding: Encoding | null): string {
  return encoding === null ? etag : `${etag.slice(0, -1)}-${encoding}"`;
}

/**
 * True when an If-None-Match header matches the etag in any of its codings (`*`, lists, weak
 * comparison as RFC 9110 asks): a client that cached the gzip answer revalidates with its
 * etag, and the bytes it names are the same.
 */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined || header === "") return false;
  const bare = etag.replace(/^W\//, "");
  const codings = [bare, encodedEtag(bare, "gzip"), encodedEtag(bare, "br")];
  for (const part of header.split(",")) {
    const candidate = part.trim().replace(/^W\//, "");
    if (candidate === "*" || codings.includes(candidate)) return true;
  }
  return false;
}

function parseEncoding(header: string | undefined, hasGzip: boolean): Encoding | null {
  if (header === undefined || header === "") return null;
  const accepted = new Map<string, number>();
  for (const part of header.split(",")) {
    const [name = "", ...params] = part.trim().toLowerCase().split(";");
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    accepted.set(name.trim(), Number.isFinite(quality) ? quality : 0);
  }
  const wildcard = accepted.get("*");
  const quality = (name: Encoding): number => accepted.get(name) ?? wildcard ?? 0;
  const br = quality("br");
  const gz = quality("gzip");
  if (br <= 0 && gz <= 0) return null;
  // The client's preference first; at equal quality a precomputed gzip, else br (smaller).
  if (gz > br || (gz === br && hasGzip)) return "gzip";
  return "br";
}

// The last header seen, per hasGzip: clients send the same few Accept-Encoding values.
const lastChoice: Array<{ header: string; encoding: Encoding | null } | undefined> = [undefined, undefined];

/** Picks br or gzip from Accept-Encoding: the higher quality (q=0 refuses); at equal quality an available precomputed gzip, else br. */
export function chooseEncoding(header: string | undefined, hasGzip: boolean): Encoding | null {
  if (header === undefined || header === "") return null;
  const slot = hasGzip ? 1 : 0;
  const last = lastChoice[slot];
  if (last !== undefined && last.header === header) return last.encoding;
  const encoding = parseEncoding(header, hasGzip);
  lastChoice[slot] = { header, encoding };
  return encoding;
}

/** True when the client will accept gzip (to decide whether a precomputed gzip is worth fetching). */
export function acceptsGzip(headers: IncomingHttpHeaders): boolean {
  const header = headers["accept-encoding"];
  return header !== undefined && chooseEncoding(header, true) === "gzip";
}

/**
 * How to answer a prepared answer: 304 on a matching If-None-Match, else 200 with its
 * encoding (null: identity) and the bytes to send, or `ready: null` when they must be
 * compressed now (no precomputed gzip for what the client accepts).
 */
export type PreparedReply = { etag: string } & ({ status: 304 } | { status: 200; encoding: Encoding | null; ready: Buffer } | { status: 200; encoding: Encoding; ready: null });

/** The reply for a prepared answer and the request's headers (see PreparedReply), with the ETag to send; the one decision of every prepared answer. */
export function preparedReply(headers: IncomingHttpHeaders, answer: PreparedAnswer): PreparedReply {
  const gz = answer.gzip ?? null;
  const encoding = answer.body.length > COMPRESS_THRESHOLD ? chooseEncoding(headers["accept-encoding"], gz !== null) : null;
  const etag = encodedEtag(answer.etag, encoding);
  if (etagMatches(headers["if-none-match"], answer.etag)) return { etag, status: 304 };
  if (encoding === null) return { etag, status: 200, encoding, ready: answer.body };
  return { etag, status: 200, encoding, ready: encoding === "gzip" && gz !== null ? gz : null };
}

/** Compresses bytes for an encoding (on the fly; brotli at a fast quality). */
export async function compress(body: Buffer, encoding: Encoding): Promise<Buffer> {
  if (encoding === "gzip") return gzipAsync(body, { level: 6 });
  return brotliAsync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 4, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } });
}

/** Answers a prepared JSON body: 304 on a matching If-None-Match, else 200, compressed when worth it. */
export async function sendPrepared(ctx: Context, answer: PreparedAnswer): Promise<void> {
  // Headers straight on the node response: koa's setters re-validate and re-parse each one.
  const res = ctx.res;
  const reply = preparedReply(ctx.req.headers, answer);
  res.setHeader("ETag", reply.etag);
  res.setHeader("Cache-Control", "no-cache");
  if (res.hasHeader("Vary")) ctx.vary("Accept-Encoding");
  else res.setHeader("Vary", "Accept-Encoding");
  if (reply.status === 304) {
    ctx.status = 304;
    ctx.body = null;
    return;
  }
  ctx.status = 200;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  if (reply.encoding !== null) res.setHeader("Content-Encoding", reply.encoding);
  ctx.body = reply.ready === null ? await compress(answer.body, reply.encoding) : reply.ready;
}

/** Answers a JSON body built for this request (a list): its etag is a hash of the bytes. */
export async function sendBuilt(ctx: Context, body: Buffer): Promise<void> {
  await sendPrepared(ctx, { etag: bodyEtag(body), body });
}
