/**
 * Test support: raw TCP exchanges with the server, for requests fetch refuses to send
 * (control characters, malformed lines, stalled bodies, byte-by-byte heads).
 */
import { connect, type Socket } from "node:net";

/** A parsed HTTP answer (the first one on the connection). */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** An open raw connection: write to it and wait for the server to close it. */
export interface RawConnection {
  socket: Socket;
  /** Everything the server sent, once the connection has closed. */
  closed: Promise<Buffer>;
}

/** Opens a TCP connection to the host and port of a base URL. */
export async function openRaw(url: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise<Buffer>((resolve) => {
    socket.on("error", () => undefined);
    socket.once("close", () => resolve(Buffer.concat(chunks)));
  });
  return { socket, closed };
}

/** Parses the first HTTP/1.1 answer in raw bytes; null when there is none. */
export function parseAnswer(raw: Buffer): RawAnswer | null {
  const text = raw.toString("latin1");
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? "")?.[1]);
  if (!Number.isInteger(status)) return null;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers["content-length"] ?? NaN);
  const rest = raw.subarray(Buffer.byteLength(text.slice(0, end + 4), "latin1"));
  const body = Number.isInteger(length) ? rest.subarray(0, length) : rest;
  return { status, headers, body: body.toString("utf8") };
}

/** Sends raw request bytes (ending with `Connection: close`) and parses the answer. */
export async function rawRequest(url: string, request: Buffer | string): Promise<RawAnswer | null> {
  const connection = await openRaw(url);
  connection.socket.end(request);
  return parseAnswer(await connection.closed);
}
