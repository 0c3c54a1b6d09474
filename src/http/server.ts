/**
 * Starts an app on a port and stops it gracefully: stop accepting, let in-flight
 * requests finish (bounded), then close every connection. Guards against slow and
 * abusive clients: bounded time for headers and for the whole request, bounded header
 * size (431), a cap on open connections, and problem+json answers for requests the HTTP
 * parser rejects (400, 408, 431).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type Koa from "koa";
import { MAX_BODY_BYTES } from "./body.ts";
import { sentMoreThanOnce } from "./repeated_header.ts";

export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:3000`. */
  url: string;
  server: Server;
  /** Stops taking connections, waits for in-flight requests up to the bound, then resolves. */
  close(): Promise<void>;
}

export interface ServerOptions {
  port: number;
  host: string;
  /** Longest wait for in-flight requests on close (default 10 s). */
  shutdownTimeoutMs?: number;
  /** Longest time to receive a request's headers (default 10 s); then 408 and close. */
  headersTimeoutMs?: number;
  /** Longest time to receive a whole request (default 30 s); then 408 and close. */
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open (default KEEP_ALIVE_TIMEOUT_MS, 65 s). */
  keepAliveTimeoutMs?: number;
  /** Largest request head (request line + headers) in bytes (default 16 KiB); larger: 431. */
  maxHeaderBytes?: number;
  /** Most open connections (default 10,000); further ones are closed at once. */
  maxConnections?: number;
  /** Connections waiting to be accepted (default 4096, capped by the kernel's somaxconn). */
  backlog?: number;
  /** Tried first for each request: returns true when it answered (then the app never sees the request). */
  fastPath?: ((req: IncomingMessage, res: ServerResponse) => boolean) | null;
}

const REASONS: Record<number, { title: string; type: string; detail: string }> = {
  400: { title: "Bad request", type: "validation", detail: "The request is not valid HTTP" },
  // No timeout type in the contract's closed list: the request is incomplete, so `validation`.
  408: { title: "Request timeout", type: "validation", detail: "The request did not arrive in time" },
  // No header type in the list: too large a request part, so `payload_too_large`.
  431: { title: "Request header fields too large", type: "payload_too_large", detail: "The request headers are too large" },
};

/** A complete HTTP/1.1 problem+json answer that closes the connection, as raw bytes. */
function rawProblem(status: 400 | 408 | 431): string {
  const reason = REASONS[status]!;
  const body = JSON.stringify({ type: reason.type, title: reason.title, status, detail: reason.detail });
  return `HTTP/1.1 ${status} ${reason.title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

function statusOfClientError(error: NodeJS.ErrnoException): 400 | 408 | 431 {
  if (error.code === "HPE_HEADER_OVERFLOW") return 431;
  if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") return 408;
  return 400;
}

/** Answers a request the parser rejected with problem+json when the socket can still take it; else drops it. */
function onClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  const pending = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === "ECONNRESET" || !socket.writable || pending?.headersSent) {
    socket.destroy();
    return;
  }
  socket.end(rawProblem(statusOfClientError(error)), () => socket.destroy());
}

/**
 * How long an idle keep-alive connection stays open. Closing an idle connection races with a
 * client sending its next request on it (the client sees ECONNRESET / "socket hang up"); with
 * Node's 5 s default a pool of client connections that went idle together after a burst was
 * closed together 5 s later, and a soak at 1,000 req/s saw 4 such resets at once. Idle
 * connections are cheap, so they are closed after 65 s (longer than common load balancers'
 * 60 s idle timeout, which then always closes first), which makes the race rare.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** Answers a request with a problem+json the app never sees, and closes the connection. */
function answerProblem(res: ServerResponse, status: number, title: string, detail: string): void {
  const body = JSON.stringify({ type: "validation", title, status, detail });
  res.writeHead(status, { "Content-Type": "application/problem+json", "Content-Length": Buffer.byteLength(body), Connection: "close" });
  res.end(body);
}

/**
 * The app's handler behind the fast path; once closing, every request goes to the app (its
 * answers are told to close the connection). A bad Host is a 400 (badHost), in problem+json
 * (node's own check of a missing one answers with no body).
 */
function handlerWith(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  fastPath: ((req: IncomingMessage, res: ServerResponse) => boolean) | null,
  closing: () => boolean,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (badHost(req)) return answerBadHost(res);
    if (closing()) {
      // Answers sent while closing tell keep-alive clients to go away.
      res.setHeader("Connection", "close");
      handler(req, res);
    } else if (fastPath === null || !fastPath(req, res)) handler(req, res);
  };
}

/** What a Host header may hold: uri-host [":" port] (RFC 9112 3.2, RFC 3986 3.2.2). */
const HOST = /^[A-Za-z0-9._~%!$&'()*+,;=:[\]-]+$/;

/** True for a request whose Host is a 400 (RFC 9112 3.2): missing from an HTTP/1.1 request, sent more than once, or not a host. */
function badHost(req: IncomingMessage): boolean {
  const host = req.headers.host;
  if (host === undefined) return req.httpVersion === "1.1";
  return !HOST.test(host) || sentMoreThanOnce(req, "host");
}

function answerBadHost(res: ServerResponse): void {
  answerProblem(res, 400, "Bad request", "An HTTP/1.1 request needs one valid Host header");
}

/** True when every member of an Expect value is 100-continue (a list of it, any case, empty members ignored). */
function onlyContinue(expect: string | undefined): boolean {
  return expect !== undefined && expect.split(",").every((member) => ["", "100-continue"].includes(member.trim().toLowerCase()));
}

function answerExpectationFailed(res: ServerResponse): void {
  answerProblem(res, 417, "Expectation failed", "Only Expect: 100-continue is supported");
}

/**
 * `Expect: 100-continue`: node would send 100 Continue before the app runs, inviting a body
 * the app then refuses by its Content-Length (413); over the limit, the app answers without it.
 * Node takes any value that mentions 100-continue for it (`100-continue, foo`): one with another
 * expectation beside it cannot be met either (417, RFC 9110 10.1.1).
 */
function continueUnlessTooLarge(handler: (req: IncomingMessage, res: ServerResponse) => void): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const hostOk = !badHost(req);
    if (hostOk && !onlyContinue(req.headers.expect)) return answerExpectationFailed(res);
    const length = Number(req.headers["content-length"]);
    if (hostOk && !(Number.isFinite(length) && length > MAX_BODY_BYTES)) res.writeContinue();
    handler(req, res);
  };
}

/** Listens on host:port (port 0: any free port) and resolves once listening. */
export async function startServer(app: Koa, options: ServerOptions): Promise<RunningServer> {
  let closing: Promise<void> | null = null;
  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const headersTimeout = Math.min(options.headersTimeoutMs ?? 10_000, requestTimeout);
  const handler = handlerWith(app.callback(), options.fastPath ?? null, () => closing !== null);
  const server = createServer(
    {
      // Checked by handlerWith, so that the 400 is problem+json like every other.
      requireHostHeader: false,
      maxHeaderSize: options.maxHeaderBytes ?? 16 * 1024,
      headersTimeout,
      requestTimeout,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? KEEP_ALIVE_TIMEOUT_MS,
      // Timeouts are enforced by a periodic sweep; keep it a fraction of the shortest one.
      connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(headersTimeout / 4))),
    },
    handler,
  );
  server.on("checkContinue", continueUnlessTooLarge(handler));
  // Any other expectation cannot be met (RFC 9110 10.1.1): 417, in problem+json.
  server.on("checkExpectation", (req: IncomingMessage, res: ServerResponse) =>
    badHost(req) ? answerBadHost(res) : answerExpectationFailed(res),
  );
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? KEEP_ALIVE_TIMEOUT_MS;
  server.maxConnections = options.maxConnections ?? 10_000;
  server.on("clientError", onClientError);
  // A deep accept queue (the kernel caps it at net.core.somaxconn): with Node's default of 511,
  // a burst of connections beyond it has SYNs dropped and retried after 1, 3, 7 s.
  server.listen({ port: options.port, host: options.host, backlog: options.backlog ?? 4096 });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    server,
    close() {
      closing ??= shutdown(server, options.shutdownTimeoutMs ?? 10_000);
      return closing;
    },
  };
}

function shutdown(server: Server, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const sweep = setInterval(() => server.closeIdleConnections(), 25);
    const deadline = setTimeout(() => server.closeAllConnections(), timeoutMs);
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(deadline);
      resolve();
    });
    server.closeIdleConnections();
  });
}
