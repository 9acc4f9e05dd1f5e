export {
  ConfigError,
  configOrExit,
  type EnvSource,
  EXIT_CONFIG,
  env,
  Field,
  loadConfig,
  type ReadField,
} from "./config/env.ts";
export {
  DEFAULT_GATEWAY_PORTS,
  DEFAULT_PORTS,
  isServiceName,
  LOG_LEVELS,
  type LogLevel,
  loadMeshConfig,
  type MeshConfig,
  SERVICE_NAMES,
  type ServiceEndpoint,
  type ServiceName,
} from "./config/mesh.ts";
export { mysqlCheck, natsCheck, type OwnedCheck, remoteHealthCheck } from "./health/checks.ts";
export {
  type CheckResult,
  HealthMonitor,
  type HealthReport,
  type ReadinessCheck,
  ServingStatus,
} from "./health/monitor.ts";
export { healthRoutes } from "./health/service.ts";
export { createLogger, type Logger, type LoggerOptions, REDACTED_KEYS, redactLine } from "./log/logger.ts";
export { ProcessMetrics } from "./metrics/metrics.ts";
export { codeName, currentCall, requestedTimeoutMs } from "./rpc/call.ts";
export {
  clientDeadlineInterceptor,
  deadlineKey,
  errorMappingInterceptor,
  observeInterceptor,
  publicError,
  rpcLogger,
  rpcLoggerKey,
  serverDeadlineInterceptor,
} from "./rpc/interceptors.ts";
export { clientInterceptors, Topology } from "./rpc/topology.ts";
export { createAdminServer } from "./server/admin.ts";
export { installFatalHandlers, type RunServicesOptions, runServices } from "./server/main.ts";
export {
  type Closer,
  exitOnSignals,
  type HostedService,
  type RegisterService,
  type ServiceDeps,
  type ServiceProcess,
  type ServiceProcessOptions,
  startServiceProcess,
} from "./server/process.ts";
export { clientTracingInterceptor, serverTracingInterceptor } from "./telemetry/rpc.ts";
export {
  shutdownTelemetry,
  startTelemetry,
  type Telemetry,
  type TelemetryOptions,
  telemetryStarted,
} from "./telemetry/sdk.ts";
export { processServiceName } from "./telemetry/service-name.ts";
