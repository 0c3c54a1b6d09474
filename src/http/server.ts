/**
 * Starts an app on a port and stops it gracefully: stop accepting, let in-flight
 * requests finish (bounded), then close every connection.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type Koa from "koa";

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
}

/** Listens on host:port (port 0: any free port) and resolves once listening. */
export async function startServer(app: Koa, options: ServerOptions): Promise<RunningServer> {
  const server = app.listen({ port: options.port, host: options.host });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closing: Promise<void> | null = null;
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
    // Responses sent while closing tell keep-alive clients to go away.
    server.on("request", (_request, response) => response.setHeader("Connection", "close"));
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
