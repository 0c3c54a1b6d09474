/**
 * A lean closed-loop HTTP/1.1 load generator over plain keep-alive sockets: each request is
 * serialized once into one Buffer and written with one call; a response is parsed only as far
 * as its status line and its length (Content-Length or chunked). On these 2 cores the load
 * generator shares the CPU with the service and PostgreSQL, so what it spends per request is
 * taken from the system under test; this one spends about half of what autocannon does
 * (bench/RESULTS.md, the thirteenth session).
 */
import net from "node:net";
import { LatencyRecorder } from "./latency.ts";
import { assertLoopback, type HttpLoadOptions } from "./http_load.ts";
import type { Measurement } from "./types.ts";

const CRLF2 = Buffer.from("\r\n\r\n");
const HTTP1 = Buffer.from("HTTP/1.");
const CONTENT_LENGTH = Buffer.from("\r\nContent-Length:");
const CONTENT_LENGTH_LOWER = Buffer.from("\r\ncontent-length:");
const CONNECTION_CLOSE = ["\r\nConnection: close", "\r\nconnection: close", "\r\nConnection: Close"].map((marker) => Buffer.from(marker));
const TIMEOUT_MS = 10_000;

/** The request as bytes on the wire, Host and Content-Length set. */
export function serializeRequest(host: string, request: ReturnType<HttpLoadOptions["next"]>): Buffer {
  const body = request.body === undefined ? null : Buffer.from(request.body);
  let head = `${request.method ?? "GET"} ${request.path} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const [name, value] of Object.entries(request.headers ?? {})) head += `${name}: ${value}\r\n`;
  if (body !== null) head += `content-length: ${body.length}\r\n`;
  head += "\r\n";
  return body === null ? Buffer.from(head) : Buffer.concat([Buffer.from(head), body]);
}

export interface ParsedResponse {
  status: number;
  /** Bytes of the buffer the response took (head and body). */
  length: number;
  /** The server ends the connection after it (`Connection: close`). */
  close?: true;
}

/** Whether the head (up to headEnd) says `Connection: close`, in the casings servers send. */
function closes(buffer: Buffer, headEnd: number): boolean {
  for (const marker of CONNECTION_CLOSE) {
    const at = buffer.indexOf(marker);
    if (at >= 0 && at < headEnd) return true;
  }
  return false;
}

/**
 * Parses one response at the start of `buffer`; null when it is not complete yet. Throws on
 * a response it cannot delimit on a kept-alive connection (no length, not chunked).
 */
export function parseResponse(buffer: Buffer, requestMethod = "GET"): ParsedResponse | null {
  const headEnd = buffer.indexOf(CRLF2);
  if (headEnd < 0) return null;
  const parsed = delimit(buffer, headEnd, requestMethod);
  if (parsed !== null && closes(buffer, headEnd)) parsed.close = true;
  return parsed;
}

/** The status and length of the response whose head ends at headEnd (its CRLF CRLF); null when its body is not all there. */
function delimit(buffer: Buffer, headEnd: number, requestMethod: string): ParsedResponse | null {
  // "HTTP/1.x NNN": the status from its three digits, without decoding the head.
  const status = (buffer[9]! - 48) * 100 + (buffer[10]! - 48) * 10 + (buffer[11]! - 48);
  if (buffer.indexOf(HTTP1) !== 0 || !(status >= 100 && status <= 599)) throw new Error(`not an HTTP response: ${JSON.stringify(buffer.toString("latin1", 0, 40))}`);
  const bodyStart = headEnd + 4;
  if (requestMethod === "HEAD" || status === 204 || status === 304 || status < 200) return { status, length: bodyStart };
  let lengthAt = buffer.indexOf(CONTENT_LENGTH);
  if (lengthAt < 0 || lengthAt > headEnd) lengthAt = buffer.indexOf(CONTENT_LENGTH_LOWER);
  if (lengthAt >= 0 && lengthAt < headEnd) {
    let length = 0;
    let at = lengthAt + CONTENT_LENGTH.length;
    while (buffer[at] === 32) at++;
    for (let digit = buffer[at]!; digit >= 48 && digit <= 57; digit = buffer[++at]!) length = length * 10 + digit - 48;
    return buffer.length >= bodyStart + length ? { status, length: bodyStart + length } : null;
  }
  const lower = buffer.toString("latin1", 0, headEnd).toLowerCase();
  const otherCase = lower.indexOf("\r\ncontent-length:");
  if (otherCase >= 0) {
    const length = Number.parseInt(lower.slice(otherCase + 17).trim(), 10);
    return buffer.length >= bodyStart + length ? { status, length: bodyStart + length } : null;
  }
  if (/\r\ntransfer-encoding:[^\r]*chunked/.test(lower)) {
    let at = bodyStart;
    for (;;) {
      const lineEnd = buffer.indexOf("\r\n", at);
      if (lineEnd < 0) return null;
      const size = Number.parseInt(buffer.toString("latin1", at, lineEnd), 16);
      if (!Number.isFinite(size)) throw new Error("bad chunk size");
      if (size === 0) {
        const trailerEnd = buffer.indexOf(CRLF2, lineEnd);
        if (trailerEnd === lineEnd) return { status, length: lineEnd + 4 };
        // Trailers: the message ends at the first empty line after the last chunk.
        return trailerEnd < 0 ? null : { status, length: trailerEnd + 4 };
      }
      at = lineEnd + 2 + size + 2;
      if (buffer.length < at) return null;
    }
  }
  throw new Error(`response ${status} has neither Content-Length nor chunked encoding`);
}

/** Runs `connections` closed loops for durationS; every latency recorded, as runHttpLoad does. */
export async function runRawHttpLoad(options: HttpLoadOptions): Promise<Measurement & { clientCpuUsPerOp: number }> {
  assertLoopback(options.url);
  const url = new URL(options.url);
  const port = Number(url.port || 80);
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const recorder = new LatencyRecorder();
  const ok = new Set(options.okStatuses ?? []);
  const statusCodes: Record<string, number> = {};
  let failed = 0;
  let timeouts = 0;
  let connectionErrors = 0;
  const cpuStart = process.cpuUsage();
  const startedAt = performance.now();
  const endsAt = startedAt + options.durationS * 1000;

  const watchdogs = new Set<() => void>();
  const watchdog = setInterval(() => {
    for (const check of watchdogs) check();
  }, 250);
  const lane = (): Promise<void> =>
    new Promise((resolveLane) => {
      let socket: net.Socket | null = null;
      let pending: Buffer = Buffer.alloc(0);
      let sentAt = 0;
      let method = "GET";
      let inFlight = false;
      // One timer for all lanes checks for answers overdue (a timer per request costs more than the request's parsing).
      watchdogs.add(() => {
        if (!inFlight || performance.now() - sentAt < TIMEOUT_MS) return;
        timeouts++;
        failed++;
        inFlight = false;
        reset();
        send();
      });
      const finish = (): void => {
        reset();
        resolveLane();
      };
      const send = (): void => {
        if (performance.now() >= endsAt) return finish();
        const request = options.next();
        method = request.method ?? "GET";
        if (socket === null) connect();
        sentAt = performance.now();
        inFlight = true;
        socket!.write(serializeRequest(url.host, request));
      };
      const reset = (): void => {
        socket?.removeAllListeners();
        socket?.on("error", () => undefined);
        socket?.destroy();
        socket = null;
        pending = Buffer.alloc(0);
      };
      const connect = (): void => {
        const current = net.connect({ host: hostname, port, noDelay: true });
        socket = current;
        current.on("data", (chunk: Buffer) => {
          pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
          let parsed: ParsedResponse | null;
          try {
            parsed = parseResponse(pending, method);
          } catch {
            failed++;
            connectionErrors++;
            inFlight = false;
            reset();
            return send();
          }
          if (parsed === null) return;
          inFlight = false;
          recorder.record(performance.now() - sentAt);
          statusCodes[parsed.status] = (statusCodes[parsed.status] ?? 0) + 1;
          if (!(parsed.status >= 200 && parsed.status < 300) && !ok.has(parsed.status)) failed++;
          pending = parsed.length === pending.length ? Buffer.alloc(0) : pending.subarray(parsed.length);
          if (parsed.close) reset();
          send();
        });
        const broken = (): void => {
          if (socket !== current) return;
          if (!inFlight) {
            // Closed between requests (the server ended the keep-alive): the next request reconnects.
            reset();
            return;
          }
          inFlight = false;
          failed++;
          connectionErrors++;
          reset();
          // A refused or reset connection is retried after a pause, not in a tight loop.
          setTimeout(send, 50);
        };
        current.on("error", broken);
        current.on("close", broken);
      };
      send();
    });

  await Promise.all(Array.from({ length: options.connections }, lane));
  clearInterval(watchdog);
  const durationS = (performance.now() - startedAt) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const clientCpuUsPerOp = recorder.count === 0 ? 0 : Math.round(((cpu.user + cpu.system) / recorder.count) * 10) / 10;
  return {
    label: options.label,
    role: options.role,
    connections: options.connections,
    durationS: Math.round(durationS * 100) / 100,
    operations: recorder.count,
    throughput: Math.round((recorder.count / durationS) * 100) / 100,
    unit: options.unit ?? "req",
    latencyMs: recorder.summary(),
    errors: failed,
    statusCodes,
    notes: `lean client (raw keep-alive sockets): ${clientCpuUsPerOp} µs of client CPU per request` +
      (failed > 0 ? `; client errors: ${timeouts} timeouts (no answer in 10 s), ${connectionErrors} connection errors` : ""),
    peakRssBytes: options.peakRss?.() ?? null,
    ...(options.rssOf === undefined ? {} : { rssOf: options.rssOf }),
    clientCpuUsPerOp,
  };
}
