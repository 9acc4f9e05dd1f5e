import http from "node:http";
import http2 from "node:http2";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ConnectRouterOptions,
  type Interceptor,
  type MethodImpl,
  type ServiceImpl,
} from "@connectrpc/connect";
import type { UniversalHandlerOptions } from "@connectrpc/connect/protocol";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import type { MeshConfig, ServiceName } from "../config/mesh.ts";
import { HealthMonitor, type ReadinessCheck } from "../health/monitor.ts";
import { healthRoutes } from "../health/service.ts";
import { createLogger } from "../log/logger.ts";
import { ProcessMetrics } from "../metrics/metrics.ts";
import { watchReadiness } from "../metrics/readiness.ts";
import {
  errorMappingInterceptor,
  observeInterceptor,
  serverDeadlineInterceptor,
} from "../rpc/interceptors.ts";
import { Topology } from "../rpc/topology.ts";
import { wellFormedInterceptor } from "../rpc/well-formed.ts";
import { serverTracingInterceptor } from "../telemetry/rpc.ts";
import { shutdownTelemetry } from "../telemetry/sdk.ts";
import { createAdminServer } from "./admin.ts";

type NodeHandler = ReturnType<typeof connectNodeAdapter>;
export type Closer = () => Promise<void> | void;

/** What a service's `register` gets besides the router. */
export interface ServiceDeps {
  readonly config: MeshConfig;
  /** Logger of the service (`component` = its name). */
  readonly logger: Logger;
  /** Clients for other services: `deps.topology.client(IdentityService, "identity")`. */
  readonly topology: Topology;
  /**
   * The process's Prometheus registry and RPC metrics: services add their own series to `metrics.registry`
   * (DB pool: watchDbPool, outbox relay: relayPrometheusMetrics, consumer lag: watchConsumerLag, deliveries:
   * deliveryMetrics), so they are served on the process's /metrics.
   */
  readonly metrics: ProcessMetrics;
  /** Runs at shutdown after in-flight calls drained (close the ORM, drain the bus); last added runs first. */
  onShutdown(close: Closer): void;
  /** One more dependency readiness depends on. */
  addReadinessCheck(check: ReadinessCheck): void;
}

/**
 * A service's contribution to a process: `register(router, deps)` adds its RPC implementations
 * (`router.service(TicketService, impl)`), may open its connections (async), and registers what to close.
 */
export type RegisterService = (router: ConnectRouter, deps: ServiceDeps) => void | Promise<void>;

export interface HostedService {
  readonly name: ServiceName;
  readonly register: RegisterService;
  /**
   * The service cannot serve without NATS (it consumes or streams events): NATS is then a required
   * readiness check of its process. Services whose events wait in the outbox keep serving through a NATS
   * outage, and NATS is only reported for them.
   */
  readonly needsBus?: boolean;
}

export interface ServiceProcessOptions {
  /** Process name: the `service` of its log lines, the `process` label of its metrics. */
  name: string;
  config: MeshConfig;
  /** Services this process hosts. */
  services?: readonly HostedService[];
  /** More RPC routes not owned by a hosted service (the gateway's forwarder). */
  routes?: (router: ConnectRouter) => void;
  /** Serves HTTP requests that match no RPC route (the gateway's legacy REST routes); 404 otherwise. */
  fallback?: NodeHandler;
  /** Readiness checks: MySQL, NATS, downstream services. */
  checks?: readonly ReadinessCheck[];
  /** Extra server interceptors, run after error mapping, right before the handler (the auth slot). */
  interceptors?: readonly Interceptor[];
  listen: {
    /** h2c ports serving Connect, gRPC and gRPC-Web (0 = any free port). */
    h2c: readonly number[];
    /** HTTP/1.1 ports serving the same routes (Connect, gRPC-Web, fallback); the gateway's public port. */
    http1?: readonly number[];
    admin: number;
    /** Bind address; config.bindHost by default. */
    host?: string;
  };
  logger?: Logger;
  /** Shared with a gateway in the same process; created from config and `services` when absent. */
  topology?: Topology;
  /** Closed at shutdown after the services' own callbacks (e.g. the readiness checks' connections). */
  onShutdown?: readonly Closer[];
  /** Install SIGTERM/SIGINT handlers that shut down, flush telemetry and exit. Default true. */
  handleSignals?: boolean;
}

export interface ServiceProcess {
  readonly name: string;
  readonly logger: Logger;
  readonly metrics: ProcessMetrics;
  readonly health: HealthMonitor;
  readonly topology: Topology;
  /** Ports actually bound (useful with port 0). */
  readonly ports: {
    readonly h2c: readonly number[];
    readonly http1: readonly number[];
    readonly admin: number;
  };
  /** RPCs (and fallback requests) being served right now. */
  inFlight(): number;
  /**
   * Graceful shutdown: readiness NOT_SERVING, stop accepting (GOAWAY on HTTP/2 sessions), let in-flight calls
   * finish within the grace period, cancel what is left, run the shutdown callbacks (DB, NATS), close.
   */
  shutdown(reason?: string): Promise<void>;
  /** Settles when shutdown has completed. */
  readonly closed: Promise<void>;
}

interface RecordedRoutes {
  readonly router: ConnectRouter;
  readonly services: ReadonlySet<DescService>;
  replay(router: ConnectRouter): void;
}

/**
 * Registrations are recorded and replayed: Connect's adapters and createRouterTransport each build their own
 * router with their own options, and a service's `register` may be async.
 */
function recordRoutes(): RecordedRoutes {
  const calls: ((router: ConnectRouter) => void)[] = [];
  const services = new Set<DescService>();
  const router: ConnectRouter = {
    handlers: [],
    service<T extends DescService>(
      service: T,
      implementation: Partial<ServiceImpl<T>>,
      options?: Partial<UniversalHandlerOptions>,
    ) {
      services.add(service);
      calls.push((r) => r.service(service, implementation, options));
      return this;
    },
    rpc<M extends DescMethod>(method: M, impl: MethodImpl<M>, options?: Partial<UniversalHandlerOptions>) {
      services.add(method.parent);
      calls.push((r) => r.rpc(method, impl, options));
      return this;
    },
  };
  return {
    router,
    services,
    replay: (r) => {
      for (const call of calls) call(r);
    },
  };
}

function listen(server: http.Server | http2.Http2Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(new Error(`cannot listen on ${host}:${port}: ${error.message}`));
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : port);
    });
  });
}

function closeServer(server: http.Server | http2.Http2Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Starts an ostmesh process: the hosted services' routes plus grpc.health.v1.Health on h2c ports (Connect,
 * gRPC, gRPC-Web; explicit message size limits), optional HTTP/1.1 ports with the same routes, and the admin
 * port (/healthz, /readyz, /metrics). Server interceptors run in this order:
 *   tracing -> logging/metrics -> deadline -> error mapping -> options.interceptors (auth) -> handler.
 */
export async function startServiceProcess(options: ServiceProcessOptions): Promise<ServiceProcess> {
  const { config } = options;
  const logger = options.logger ?? createLogger({ service: options.name, level: config.logLevel });
  const host = options.listen.host ?? config.bindHost;
  const hosted = options.services ?? [];
  const topology =
    options.topology ??
    new Topology(
      config,
      hosted.map((s) => s.name),
    );
  const metrics = new ProcessMetrics(options.name);
  const checks: ReadinessCheck[] = [...(options.checks ?? [])];
  // Run in reverse order at shutdown: services' callbacks first, then these.
  const closers: Closer[] = [...(options.onShutdown ?? [])];

  // Registration: each hosted service adds its routes, checks and closers.
  const recorded = recordRoutes();
  for (const service of hosted) {
    await service.register(recorded.router, {
      config,
      logger: logger.child({ component: service.name }),
      topology,
      metrics,
      onShutdown: (close) => closers.push(close),
      addReadinessCheck: (check) => checks.push(check),
    });
  }

  const healthNames = [...hosted.map((s) => s.name), ...[...recorded.services].map((s) => s.typeName)];
  const health = new HealthMonitor({
    checks,
    services: healthNames,
    intervalMs: config.timing.healthIntervalMs,
    checkTimeoutMs: config.timing.healthCheckTimeoutMs,
    logger,
  });
  closers.push(watchReadiness(metrics.registry, health));

  const shutdownController = new AbortController();
  const routerOptions: ConnectRouterOptions = {
    interceptors: [
      serverTracingInterceptor(),
      observeInterceptor(metrics, logger),
      serverDeadlineInterceptor(config.timing.requestTimeoutMs),
      errorMappingInterceptor(),
      ...(options.interceptors ?? []),
      // After authentication: a caller who may not call learns nothing of the request's shape.
      wellFormedInterceptor(),
    ],
    readMaxBytes: config.limits.maxMessageBytes,
    writeMaxBytes: config.limits.maxMessageBytes,
    shutdownSignal: shutdownController.signal,
  };
  const routes = (router: ConnectRouter) => {
    healthRoutes(health)(router);
    recorded.replay(router);
    options.routes?.(router);
  };
  // In-process calls to the hosted services go through these very routes and interceptors. A process that
  // hosts no service (the gateway) leaves the topology alone, even when it shares it (--single).
  if (hosted.length > 0) topology.attachLocalRoutes(routes, routerOptions);

  const adapter = connectNodeAdapter({ ...routerOptions, routes, fallback: options.fallback });
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const handler: NodeHandler = (req, res) => {
    inFlight++;
    res.once("close", () => {
      inFlight--;
      if (inFlight === 0) drained?.();
    });
    adapter(req, res);
  };

  const sessions = new Set<http2.ServerHttp2Session>();
  const h2cServers = options.listen.h2c.map(() => {
    const server = http2.createServer({}, handler);
    server.on("session", (session) => {
      sessions.add(session);
      session.once("close", () => sessions.delete(session));
    });
    return server;
  });
  const http1Servers = (options.listen.http1 ?? []).map(() => {
    const server = http.createServer(handler);
    server.keepAliveTimeout = 5000;
    return server;
  });
  const admin = createAdminServer(health, metrics);

  const ports = {
    h2c: await Promise.all(h2cServers.map((s, i) => listen(s, options.listen.h2c[i] ?? 0, host))),
    http1: await Promise.all(http1Servers.map((s, i) => listen(s, options.listen.http1?.[i] ?? 0, host))),
    admin: await listen(admin, options.listen.admin, host),
  };
  health.start();
  logger.info(
    { h2c: ports.h2c, http1: ports.http1, admin: ports.admin, services: topology.hosted, host },
    "listening",
  );

  let resolveClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  let shuttingDown: Promise<void> | undefined;

  const shutdown = (reason = "requested"): Promise<void> => {
    shuttingDown ??= (async () => {
      const graceMs = config.timing.shutdownGraceMs;
      logger.info({ reason, inFlight, graceMs }, "shutting down");
      health.shutdown();
      // Stop accepting: no new connections; GOAWAY tells HTTP/2 clients to open no new streams here, while
      // streams already running may finish.
      const serversClosed = [...h2cServers, ...http1Servers].map(closeServer);
      for (const session of sessions) session.close();
      for (const server of http1Servers) server.closeIdleConnections();
      if (inFlight > 0) {
        await Promise.race([
          new Promise<void>((resolve) => {
            drained = resolve;
          }),
          delay(graceMs),
        ]);
      }
      if (inFlight > 0) {
        logger.warn({ inFlight }, "grace period over, cancelling the calls still running");
        shutdownController.abort(new ConnectError("the server is shutting down", Code.Unavailable));
        await Promise.race([new Promise<void>((resolve) => (drained = resolve)), delay(1000)]);
      }
      for (const session of sessions) session.destroy();
      for (const server of http1Servers) server.closeAllConnections();
      await Promise.all(serversClosed);
      topology.close();
      for (const close of closers.reverse()) {
        try {
          await Promise.race([close(), delay(5000)]);
        } catch (error) {
          logger.error({ err: error }, "a shutdown callback failed");
        }
      }
      admin.closeAllConnections();
      await closeServer(admin);
      logger.info("stopped");
      resolveClosed();
    })();
    return shuttingDown;
  };

  if (options.handleSignals ?? true) exitOnSignals(shutdown, logger);

  return {
    name: options.name,
    logger,
    metrics,
    health,
    topology,
    ports,
    inFlight: () => inFlight,
    shutdown,
    closed,
  };
}

/**
 * SIGTERM/SIGINT: graceful shutdown, telemetry flushed, exit 0. A second signal while shutting down exits
 * at once (130), as an impatient operator expects.
 */
export function exitOnSignals(shutdown: (reason: string) => Promise<void>, logger: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal, exiting now");
      process.exit(130);
    }
    stopping = true;
    shutdown(signal)
      .then(() => shutdownTelemetry().catch(() => undefined))
      .then(
        () => {
          logger.flush();
          process.exit(0);
        },
        (error: unknown) => {
          logger.fatal({ err: error }, "shutdown failed");
          logger.flush();
          process.exit(1);
        },
      );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
