/**
 * The HTTP floor: a bare node:http server answering every request with one prepared JSON
 * buffer of a given size. Run as a child: `node --import tsx bench/floor_server.ts <bytes>`;
 * prints `{"url": ...}` once listening on 127.0.0.1.
 */
import http from "node:http";

/** A JSON document of exactly `bytes` bytes (at least 12). */
export function jsonOfSize(bytes: number): Buffer {
  const padding = Math.max(0, bytes - '{"data":""}'.length);
  return Buffer.from(`{"data":"${"x".repeat(padding)}"}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const body = jsonOfSize(Number(process.argv[2] ?? 1024));
  const headers = { "content-type": "application/json", "content-length": String(body.length), etag: '"floor"' };
  const server = http.createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      response.writeHead(200, headers);
      response.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
  });
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}
