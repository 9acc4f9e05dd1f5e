/**
 * The gateway as its own process:
 *   node --import @ostmesh/kit/telemetry/preload.ts gateway/src/main.ts
 * Public HTTP/1.1 on GATEWAY_PORT, h2c on GATEWAY_H2C_PORT, /healthz /readyz /metrics on GATEWAY_ADMIN_PORT.
 */
import { configOrExit, createLogger, installFatalHandlers, loadMeshConfig } from "@ostmesh/kit";
import { startGateway } from "./server.ts";

const config = configOrExit(() => loadMeshConfig(), "ostmesh-gateway");
const logger = createLogger({
  service: config.telemetry.serviceName ?? "ostmesh-gateway",
  level: config.logLevel,
});
installFatalHandlers(logger);
try {
  await startGateway({ config, logger });
} catch (error) {
  logger.fatal({ err: error }, "failed to start");
  logger.flush();
  process.exit(1);
}
