/**
 * The servers a fault test drives, all of its own: a private PostgreSQL with a `commerce`
 * database, a private Redis, and the service as a child process on them.
 */
import { postgresSkipReason, startPostgresServer, type PostgresServer } from "./postgres_server.ts";
import { redisServerSkipReason, startRedisServer, type RedisServer } from "./redis_server.ts";
import { startServiceProcess, type ServiceProcess } from "../../testing/service_process.ts";

export interface FaultStack {
  postgres: PostgresServer;
  redis: RedisServer;
  service: ServiceProcess;
  databaseUrl: string;
  /** Kills the service and stops both servers. */
  stop(): Promise<void>;
}

/** Why the stack cannot start here (missing binaries), or null. */
export function faultStackSkipReason(): string | null {
  return postgresSkipReason() ?? redisServerSkipReason();
}

/** Starts PostgreSQL, Redis and the service on them. */
export async function startFaultStack(): Promise<FaultStack> {
  const postgres = await startPostgresServer();
  const databaseUrl = await postgres.createDatabase("commerce");
  const redis = await startRedisServer();
  const service = await startServiceProcess({ databaseUrl, redisUrl: redis.url });
  return {
    postgres,
    redis,
    service,
    databaseUrl,
    async stop() {
      await service.kill("SIGKILL");
      await redis.close();
      await postgres.destroy();
    },
  };
}
