import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import type { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  createLogger,
  type Logger,
  type MeshConfig,
  remoteHealthCheck,
  SERVICE_NAMES,
  type ServiceName,
  type ServiceProcess,
  startServiceProcess,
  Topology,
} from "@ostmesh/kit";
import { Health } from "@ostmesh/proto/gen/grpc/health/v1/health_pb.js";
import { withBoard } from "./board/serve.ts";
import { type GatewayConfig, loadGatewayConfig } from "./config.ts";
import { gatewayDownloads, withDownloads } from "./downloads/route.ts";
import { GatewayEdge } from "./edge.ts";

export interface GatewayOptions {
  config: MeshConfig;
  logger?: Logger;
  /** Services behind the gateway; its readiness needs every one SERVING. All of them by default. */
  fronted?: readonly ServiceName[];
  /** Shared with services hosted in the same process (--single); network clients otherwise. */
  topology?: Topology;
  /** RPC routes of the public edge (the Connect forwarder). */
  routes?: (router: ConnectRouter) => void;
  /** Non-RPC HTTP requests; the public edge (legacy API, docs, forwarded RPCs) by default. */
  fallback?: ReturnType<typeof connectNodeAdapter>;
  /** The edge's own settings (CORS, proxies, limits, service secret); from the environment by default. */
  gateway?: GatewayConfig;
  /** Server interceptors after error mapping (authentication). */
  interceptors?: readonly Interceptor[];
  /** Ports; the configured GATEWAY_PORT, GATEWAY_H2C_PORT, GATEWAY_ADMIN_PORT by default. */
  listen?: { http?: number; h2c?: number; admin?: number };
  handleSignals?: boolean;
}

/**
 * The gateway process: public HTTP/1.1 (browsers, Connect, gRPC-Web, legacy REST) and h2c (gRPC) ports with
 * the same routes, and an admin port whose /readyz is 200 only while every fronted service answers SERVING
 * on grpc.health.v1 Check — reached the way the gateway reaches it for real traffic, and naming the
 * services that do not.
 */
export async function startGateway(options: GatewayOptions): Promise<ServiceProcess> {
  const { config } = options;
  const topology = options.topology ?? new Topology(config, []);
  const fronted = options.fronted ?? SERVICE_NAMES;
  // The gateway serves as long as the write path (ticket, identity: the legacy API and every login) does;
  // attachment and notification being down fails only their own RPCs, so they are reported, not required
  // (notification is down whenever NATS is, while tickets keep being written through the outbox).
  const checks = fronted.map((service) => ({
    ...remoteHealthCheck(
      service,
      topology.client(Health, service),
      service,
      config.timing.healthCheckTimeoutMs,
    ),
    required: service === "ticket" || service === "identity",
  }));
  const logger = options.logger ?? createLogger({ service: "ostmesh-gateway", level: config.logLevel });
  const gateway = options.fallback ? undefined : (options.gateway ?? loadGatewayConfig());
  const edge = gateway ? new GatewayEdge({ config, gateway, logger, topology }) : undefined;
  const started = await startServiceProcess({
    name: "ostmesh-gateway",
    config,
    logger,
    topology,
    routes: options.routes,
    // Signed file downloads (/files/<key>?…) in front of the edge: gateway/src/downloads; the live ticket
    // board (/board/): gateway/src/board.
    fallback:
      options.fallback ??
      (edge && gateway
        ? withBoard(withDownloads(edge.handler, gatewayDownloads({ topology, gateway, logger })), {
            onError: (err) => logger.error({ err }, "cannot build the ticket board"),
          })
        : undefined),
    checks,
    interceptors: options.interceptors,
    listen: {
      http1: [options.listen?.http ?? config.gateway.port],
      h2c: [options.listen?.h2c ?? config.gateway.h2cPort],
      admin: options.listen?.admin ?? config.gateway.adminPort,
    },
    handleSignals: options.handleSignals,
  });
  edge?.attach(started);
  return started;
}
