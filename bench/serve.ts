/**
 * Runs the real service as a child process for the benchmarks: configuration from the
 * environment (DATABASE_URL, API_TOKENS, PORT=0, ...), prints `{"url", "pid", "listeningAtMs"}` once listening,
 * stops gracefully on SIGTERM. Its peak RSS is the service's own.
 */
import { loadConfig } from "../src/config.ts";
import { startService } from "../src/main.ts";

const service = await startService(loadConfig());
process.stdout.write(`${JSON.stringify({ url: service.url, pid: process.pid, listeningAtMs: Date.now() })}\n`);
let stopping = false;
process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  service.stop().then(() => process.exit(0), () => process.exit(1));
});
