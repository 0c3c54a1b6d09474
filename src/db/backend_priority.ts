/**
 * Lowers the scheduling priority of the PostgreSQL backend process serving a connection,
 * when that process runs on this machine and may be reniced (root, or the same user). A
 * replay's rebuild writes through its own connections: their backends then yield the CPU to
 * the backends serving live work, as the replay's own threads already do.
 *
 * The backend is identified by pg_backend_pid() and confirmed before anything is changed:
 * the connection must be over loopback TCP and the process with that pid must be a
 * PostgreSQL backend whose title names this connection's client port (so a pid from another
 * machine or PID namespace is never touched). Anything else leaves the priority alone.
 */
import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import { setPriority } from "node:os";
import type pg from "pg";

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

/** True when the backend of `client` was found on this machine and reniced to `niceness`. */
export async function lowerBackendPriority(client: pg.ClientBase, niceness: number): Promise<boolean> {
  const socket = (client as unknown as { connection?: { stream?: Socket } }).connection?.stream;
  const localPort = socket?.localPort;
  if (!socket?.remoteAddress || !LOOPBACK.test(socket.remoteAddress) || localPort === undefined) return false;
  const result = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
  const pid = result.rows[0]?.pid;
  if (typeof pid !== "number") return false;
  let title: string;
  try {
    title = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return false; // not a process of this machine (or no /proc)
  }
  // A backend's title: "postgres: [cluster: ]user database 127.0.0.1(<client port>) <state>".
  if (!title.startsWith("postgres:") || !title.includes(`(${localPort})`)) return false;
  try {
    setPriority(pid, niceness);
    return true;
  } catch {
    return false; // not permitted
  }
}
