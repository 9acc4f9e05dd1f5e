import { type EnvSource, env, loadConfig } from "./env.ts";

/** The services of the mesh, in start order. Their names are the topology's vocabulary. */
export const SERVICE_NAMES = ["ticket", "identity", "attachment", "notification"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export function isServiceName(name: string): name is ServiceName {
  return SERVICE_NAMES.some((s) => s === name);
}

/** Default ports, fixed for the whole mesh (see the README's Configuration table). */
export const DEFAULT_PORTS: Readonly<Record<ServiceName, { readonly rpc: number; readonly admin: number }>> =
  {
    ticket: { rpc: 50051, admin: 9091 },
    identity: { rpc: 50052, admin: 9092 },
    attachment: { rpc: 50053, admin: 9093 },
    notification: { rpc: 50054, admin: 9094 },
  };
export const DEFAULT_GATEWAY_PORTS = { http: 8080, h2c: 8081, admin: 9080 } as const;

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ServiceEndpoint {
  /** h2c port the service's RPCs are served on. */
  readonly port: number;
  /** HTTP/1.1 port of /healthz, /readyz, /metrics. */
  readonly adminPort: number;
  /** Where callers reach the service (<SVC>_URL). */
  readonly url: string;
}

/** Everything an ostmesh process reads from its environment. */
export interface MeshConfig {
  readonly databaseUrl: string;
  readonly natsUrl: string;
  readonly logLevel: LogLevel;
  /** Address every listener binds to. */
  readonly bindHost: string;
  /** Services this process hosts (OSTMESH_SERVICES); undefined lets the entry point decide. */
  readonly hostedServices: readonly ServiceName[] | undefined;
  readonly services: Readonly<Record<ServiceName, ServiceEndpoint>>;
  readonly gateway: { readonly port: number; readonly h2cPort: number; readonly adminPort: number };
  readonly telemetry: {
    /** OTEL_SERVICE_NAME; undefined lets the process name itself. */
    readonly serviceName: string | undefined;
    /** OTEL_EXPORTER_OTLP_ENDPOINT; traces are exported over OTLP/HTTP only when set. */
    readonly otlpEndpoint: string | undefined;
    /** Root sampling ratio of the parent-based sampler (OSTMESH_TRACE_RATIO or OTEL_TRACES_SAMPLER_ARG). */
    readonly traceRatio: number;
  };
  readonly limits: {
    /** Largest RPC message read or written (Connect readMaxBytes/writeMaxBytes). */
    readonly maxMessageBytes: number;
    /**
     * Whether calls between the mesh's own processes ask for gzip-compressed answers
     * (OSTMESH_RPC_COMPRESSION, off: on one host or one cluster network compressing costs more CPU than
     * it saves).
     */
    readonly compressCalls: boolean;
  };
  readonly timing: {
    /** Deadline of a unary call whose client sent none. */
    readonly requestTimeoutMs: number;
    /** How long SIGTERM waits for in-flight calls before cutting them off. */
    readonly shutdownGraceMs: number;
    /** How often readiness checks run in the background (Watch streams see changes this fast). */
    readonly healthIntervalMs: number;
    /** Time limit of one readiness check. */
    readonly healthCheckTimeoutMs: number;
  };
}

const HTTP_URL = { protocols: ["http:", "https:"] } as const;

/** Reads and validates the mesh configuration; throws one ConfigError naming every bad variable. */
export function loadMeshConfig(source: EnvSource = process.env): MeshConfig {
  return loadConfig((read) => {
    const endpoint = (name: ServiceName): ServiceEndpoint => {
      const upper = name.toUpperCase();
      const port = read(env.port(`${upper}_PORT`).default(DEFAULT_PORTS[name].rpc));
      return {
        port,
        adminPort: read(env.port(`${upper}_ADMIN_PORT`).default(DEFAULT_PORTS[name].admin)),
        url: read(env.url(`${upper}_URL`, HTTP_URL).default(`http://127.0.0.1:${port}`)),
      };
    };
    return {
      databaseUrl: read(
        env.url("DATABASE_URL", { protocols: ["mysql:"] }).default("mysql://root@127.0.0.1:3306/osticket"),
      ),
      natsUrl: read(env.url("NATS_URL", { protocols: ["nats:", "tls:"] }).default("nats://127.0.0.1:4222")),
      logLevel: read(env.enum("LOG_LEVEL", LOG_LEVELS).default("info")),
      bindHost: read(env.string("OSTMESH_BIND_HOST").default("0.0.0.0")),
      hostedServices: read(env.list("OSTMESH_SERVICES", SERVICE_NAMES).optional()),
      services: {
        ticket: endpoint("ticket"),
        identity: endpoint("identity"),
        attachment: endpoint("attachment"),
        notification: endpoint("notification"),
      },
      gateway: {
        port: read(env.port("GATEWAY_PORT").default(DEFAULT_GATEWAY_PORTS.http)),
        h2cPort: read(env.port("GATEWAY_H2C_PORT").default(DEFAULT_GATEWAY_PORTS.h2c)),
        adminPort: read(env.port("GATEWAY_ADMIN_PORT").default(DEFAULT_GATEWAY_PORTS.admin)),
      },
      telemetry: {
        serviceName: read(env.string("OTEL_SERVICE_NAME").optional()),
        otlpEndpoint: read(env.url("OTEL_EXPORTER_OTLP_ENDPOINT", HTTP_URL).optional()),
        traceRatio: read(
          env.number("OSTMESH_TRACE_RATIO", { min: 0, max: 1 }).or("OTEL_TRACES_SAMPLER_ARG").default(1),
        ),
      },
      limits: {
        maxMessageBytes: read(
          env.bytes("OSTMESH_MAX_MESSAGE_BYTES", { min: 1024, max: 2 ** 31 }).default(16 * 1024 * 1024),
        ),
        compressCalls: read(env.bool("OSTMESH_RPC_COMPRESSION").default(false)),
      },
      timing: {
        requestTimeoutMs: read(env.duration("OSTMESH_REQUEST_TIMEOUT", { min: 1 }).default(30_000)),
        shutdownGraceMs: read(env.duration("OSTMESH_SHUTDOWN_GRACE").default(10_000)),
        healthIntervalMs: read(env.duration("OSTMESH_HEALTH_INTERVAL", { min: 50 }).default(5_000)),
        healthCheckTimeoutMs: read(env.duration("OSTMESH_HEALTH_CHECK_TIMEOUT", { min: 10 }).default(2_000)),
      },
    };
  }, source);
}
