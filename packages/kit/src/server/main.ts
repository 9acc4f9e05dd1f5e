import { IdentityService } from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";
import { createMeshAuth } from "../auth/mesh.ts";
import { configOrExit } from "../config/env.ts";
import { loadMeshConfig, type MeshConfig } from "../config/mesh.ts";
import { mysqlCheck, natsCheck } from "../health/checks.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import { Topology } from "../rpc/topology.ts";
import { type HostedService, type ServiceProcess, startServiceProcess } from "./process.ts";

export interface RunServicesOptions {
  /** Process name (logs, metrics); OTEL_SERVICE_NAME wins for the log `service` field when set. */
  name: string;
  services: readonly HostedService[];
  /** Loaded from the environment when absent (a bad variable exits 78 with one line). */
  config?: MeshConfig;
  logger?: Logger;
  topology?: Topology;
  /** Default true: SIGTERM/SIGINT shut the process down and exit. */
  handleSignals?: boolean;
}

/**
 * Runs one or more services in this process, the way every entry point does: validated config, a logger,
 * readiness backed by real MySQL (`SELECT 1`) and NATS (round trip; required only when a hosted service
 * `needsBus`) checks, each hosted service's RPC port
 * (every port serves all hosted services, so <SVC>_URL is right in every topology), the admin port of the
 * first hosted service. A start-up failure is logged and exits 1.
 */
export async function runServices(options: RunServicesOptions): Promise<ServiceProcess> {
  const config = options.config ?? configOrExit(() => loadMeshConfig(), options.name);
  const logger =
    options.logger ??
    createLogger({ service: config.telemetry.serviceName ?? options.name, level: config.logLevel });
  const first = options.services[0];
  if (!first) throw new Error("runServices needs at least one service");
  installFatalHandlers(logger);
  const db = mysqlCheck(config.databaseUrl, { timeoutMs: config.timing.healthCheckTimeoutMs });
  // Writes commit with their events in MySQL (the outbox): only services that consume or stream events
  // need NATS to be ready; for the others an outage is reported, not a reason to stop routing to them.
  const nats = natsCheck(config.natsUrl, {
    timeoutMs: config.timing.healthCheckTimeoutMs,
    required: options.services.some((s) => s.needsBus === true),
  });
  const topology =
    options.topology ??
    new Topology(
      config,
      options.services.map((s) => s.name),
    );
  // Every RPC is authenticated and authorized (ostmesh JWTs against identity's JWKS, API keys, OIDC).
  const auth = createMeshAuth({
    identity: topology.client(IdentityService, "identity"),
    databaseUrl: config.databaseUrl,
    logger,
  });
  try {
    return await startServiceProcess({
      name: options.name,
      config,
      logger,
      services: options.services,
      checks: [db, nats],
      interceptors: [auth.interceptor],
      onShutdown: [() => db.close(), () => nats.close(), () => auth.close()],
      listen: {
        h2c: options.services.map((s) => config.services[s.name].port),
        admin: config.services[first.name].adminPort,
      },
      topology,
      handleSignals: options.handleSignals,
    });
  } catch (error) {
    logger.fatal({ err: error }, "failed to start");
    await Promise.allSettled([db.close(), nats.close(), auth.close()]);
    logger.flush();
    process.exit(1);
  }
}

let fatalHandlersInstalled = false;

/** An uncaught error leaves a last log line and exit code 1 instead of a bare stack trace. */
export function installFatalHandlers(logger: Logger): void {
  if (fatalHandlersInstalled) return;
  fatalHandlersInstalled = true;
  process.on("uncaughtException", (error) => {
    logger.fatal({ err: error }, "uncaught exception");
    logger.flush();
    process.exit(1);
  });
  process.on("unhandledRejection", (reason) => {
    logger.fatal({ err: reason }, "unhandled rejection");
    logger.flush();
    process.exit(1);
  });
}
