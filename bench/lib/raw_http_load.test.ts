import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseResponse, runRawHttpLoad, serializeRequest } from "./raw_http_load.ts";

describe("parseResponse", () => {
  const text = (s: string) => Buffer.from(s, "latin1");

  it("delimits a response by Content-Length in either case, and waits for the rest of the body", () => {
    const full = text("HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX: y\r\n\r\nhello");
    expect(parseResponse(full)).toEqual({ status: 201, length: full.length });
    expect(parseResponse(full.subarray(0, full.length - 1))).toBeNull();
    expect(parseResponse(full.subarray(0, 20))).toBeNull();
    const lower = text("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 404");
    expect(parseResponse(lower)).toEqual({ status: 200, length: lower.length - "HTTP/1.1 404".length });
    const mixed = text("HTTP/1.1 200 OK\r\nCONTENT-LENGTH:3\r\n\r\nabc");
    expect(parseResponse(mixed)).toEqual({ status: 200, length: mixed.length });
  });

  it("does not take a Content-Length from the body", () => {
    const response = text("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n13\r\n\r\nContent-Length: 9\r\n0\r\n\r\n");
    expect(parseResponse(response)).toEqual({ status: 200, length: response.length });
  });

  it("delimits chunked bodies, with and without trailers, and waits for the last chunk", () => {
    const chunked = text("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    expect(parseResponse(chunked)).toEqual({ status: 200, length: chunked.length });
    expect(parseResponse(chunked.subarray(0, chunked.length - 2))).toBeNull();
    const trailers = text("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: 1\r\n\r\n");
    expect(parseResponse(trailers)).toEqual({ status: 200, length: trailers.length });
  });

  it("knows the responses without a body", () => {
    expect(parseResponse(text("HTTP/1.1 304 Not Modified\r\nETag: \"1\"\r\n\r\n"))?.status).toBe(304);
    expect(parseResponse(text("HTTP/1.1 204 No Content\r\n\r\n"))?.status).toBe(204);
    const head = text("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
    expect(parseResponse(head, "HEAD")).toEqual({ status: 200, length: head.length });
  });

  it("refuses what it cannot delimit", () => {
    expect(() => parseResponse(text("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc"))).toThrow(/neither/);
    expect(() => parseResponse(text("SSH-2.0-OpenSSH\r\n\r\n"))).toThrow(/not an HTTP response/);
  });

  it("notes a response that closes its connection", () => {
    expect(parseResponse(text("HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"))?.close).toBe(true);
    expect(parseResponse(text("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"))?.close).toBeUndefined();
  });
});

describe("serializeRequest", () => {
  it("writes the head, Host and the body's byte length", () => {
    const bytes = serializeRequest("127.0.0.1:8080", { method: "POST", path: "/v1/orders", headers: { "content-type": "application/json" }, body: '{"a":"é"}' });
    expect(bytes.toString()).toBe('POST /v1/orders HTTP/1.1\r\nhost: 127.0.0.1:8080\r\ncontent-type: application/json\r\ncontent-length: 10\r\n\r\n{"a":"é"}');
  });
});

describe("runRawHttpLoad", () => {
  let server: http.Server;
  let url = "";
  let served = 0;
  beforeAll(async () => {
    server = http.createServer((request, response) => {
      served++;
      let body = "";
      request.setEncoding("utf8");
      request.on("data", (chunk: string) => (body += chunk));
      request.on("end", () => {
        if (request.url === "/chunked") {
          response.write("part one,");
          response.end(` ${body.length} bytes`);
        } else if (request.url === "/close") {
          // Every response ends its connection: the next request needs a new one.
          response.writeHead(200, { connection: "close", "content-length": "2" }).end("ok");
        } else if (request.url === "/missing") response.writeHead(404, { "content-length": "0" }).end();
        else response.writeHead(201, { "content-length": String(Buffer.byteLength(body)) }).end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("runs closed loops over kept-alive, chunked and closed connections, counting statuses and failures", async () => {
    const paths = ["/echo", "/chunked", "/close", "/missing"];
    let n = 0;
    const before = served;
    const measurement = await runRawHttpLoad({
      label: "mix", role: "subject", url, connections: 4, durationS: 0.5,
      next: () => ({ method: "POST", path: paths[n++ % paths.length]!, headers: { "content-type": "text/plain" }, body: `body ${n}` }),
    });
    expect(measurement.operations).toBeGreaterThan(40);
    // Each lane ends with at most one request sent and not waited for.
    expect(served - before - measurement.operations).toBeLessThanOrEqual(4);
    const codes = measurement.statusCodes!;
    expect(Object.keys(codes).sort()).toEqual(["200", "201", "404"]);
    // Only the 404s are failures: closed connections between requests are not.
    expect(measurement.errors).toBe(codes["404"]);
    expect(measurement.latencyMs!.p50).toBeGreaterThan(0);
    expect(measurement.clientCpuUsPerOp).toBeGreaterThan(0);
  });

  it("counts a refused connection as an error and keeps going", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const measurement = await runRawHttpLoad({ label: "refused", role: "subject", url: `http://127.0.0.1:${port}`, connections: 2, durationS: 0.3, next: () => ({ path: "/" }) });
    expect(measurement.operations).toBe(0);
    expect(measurement.errors).toBeGreaterThan(0);
    expect(measurement.notes).toMatch(/connection errors/);
  });
});
