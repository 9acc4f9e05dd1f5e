/**
 * @ostmesh/gateway: the public edge. `GatewayEdge` is the request handler the gateway process serves on its
 * public ports (legacy osTicket API, OpenAPI + docs, Connect/gRPC/gRPC-Web forwarding).
 */

export { IssuedServiceToken, type ServiceCredentials } from "@ostmesh/kit/auth/service-token.ts";
export { type ApiKeyExchange, type EdgeAuthOptions, edgeAuthInterceptor } from "./auth/edge-auth.ts";
export { ClientAddressResolver } from "./client-ip.ts";
export { type GatewayConfig, loadGatewayConfig } from "./config.ts";
export { CorsPolicy } from "./cors.ts";
export { GatewayEdge, type GatewayEdgeOptions, type NodeHandler, owningService } from "./edge.ts";
export { ConnectLegacyBackend } from "./legacy/backend.ts";
export { LegacyApi, type LegacyBackend, type LegacyLimits } from "./legacy/handler.ts";
export { maskApiKey } from "./legacy/syslog.ts";
export { buildOpenApi } from "./openapi/generate.ts";
export { RateLimiter } from "./rate-limit.ts";
export { clientIpKey, forwardAuthorizationKey, forwarderRoutes } from "./rpc/forwarder.ts";
