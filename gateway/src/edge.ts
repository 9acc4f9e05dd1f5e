/**
 * The public edge as one Node request handler, served on the gateway's HTTP/1.1 and h2c ports:
 *   CORS → legacy osTicket API (/api/...) | OpenAPI document and docs page | Connect/gRPC/gRPC-Web forwarder.
 * RPCs run through the same interceptors as every ostmesh server (tracing, logs and metrics, deadlines,
 * error mapping) plus edge authentication and rate limiting, then the generic forwarder.
 */
import { readFileSync } from "node:fs";
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createContextValues, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { CachedJwks, jwksFromIdentity, jwksFromUrl } from "@ostmesh/kit/auth/jwks.ts";
import { IssuedServiceToken, type ServiceCredentials } from "@ostmesh/kit/auth/service-token.ts";
import { AccessTokenVerifier } from "@ostmesh/kit/auth/verify.ts";
import type { MeshConfig, ServiceName } from "@ostmesh/kit/config/mesh.ts";
import { isServiceName } from "@ostmesh/kit/config/mesh.ts";
import type { ProcessMetrics } from "@ostmesh/kit/metrics/metrics.ts";
import {
  errorMappingInterceptor,
  observeInterceptor,
  serverDeadlineInterceptor,
} from "@ostmesh/kit/rpc/interceptors.ts";
import type { Topology } from "@ostmesh/kit/rpc/topology.ts";
import { serverTracingInterceptor } from "@ostmesh/kit/telemetry/rpc.ts";
import { services as meshServices } from "@ostmesh/proto";
import {
  ApiKeyCheckOutcome,
  ApiKeyPurpose,
  IdentityService,
} from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";
import { TicketService } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import type { Logger } from "pino";
import { edgeAuthInterceptor } from "./auth/edge-auth.ts";
import { reusableUntilMs } from "./auth/key-tokens.ts";
import { ClientAddressResolver } from "./client-ip.ts";
import type { GatewayConfig } from "./config.ts";
import { CorsPolicy } from "./cors.ts";
import { JWKS_PATH, JwksDocument, jwksHandler } from "./jwks.ts";
import { ConnectLegacyBackend } from "./legacy/backend.ts";
import { LegacyApi, type LegacyBackend } from "./legacy/handler.ts";
import {
  isLegacyPath,
  matchLegacyRoute,
  type NodeRequest,
  type NodeResponse,
  sendEdge,
  writeHead,
} from "./legacy/http.ts";
import { buildOpenApi } from "./openapi/generate.ts";
import { RateLimiter } from "./rate-limit.ts";
import { clientIpKey, forwarderRoutes } from "./rpc/forwarder.ts";

export type NodeHandler = (req: NodeRequest, res: NodeResponse) => void;

export interface GatewayEdgeOptions {
  config: MeshConfig;
  gateway: GatewayConfig;
  logger: Logger;
  /** How the gateway reaches the services (the same one the gateway process uses). */
  topology: Topology;
  /** The gateway's own credential; by default a service token issued for GATEWAY_SERVICE_SECRET. */
  credentials?: ServiceCredentials;
  /** The legacy API's backend; by default the Connect one over `topology`. */
  legacyBackend?: LegacyBackend;
  /** Services exposed; all four by default. */
  services?: readonly DescService[];
}

/** "osticket.ticket.v1.TicketService" → "ticket". */
export function owningService(service: DescService): ServiceName {
  const name = service.typeName.split(".")[1] ?? "";
  if (!isServiceName(name)) throw new Error(`no mesh service owns ${service.typeName}`);
  return name;
}

const DOCS_HTML = readFileSync(new URL("../public/docs.html", import.meta.url));

export class GatewayEdge {
  readonly handler: NodeHandler;
  readonly openApi: string;
  /** The JWKS document served at /.well-known/jwks.json. */
  readonly jwks: JwksDocument;
  #metrics: ProcessMetrics | undefined;

  constructor(options: GatewayEdgeOptions) {
    const { config, gateway, logger, topology } = options;
    const services = options.services ?? meshServices;
    const identity: Client<typeof IdentityService> = topology.client(IdentityService, "identity");
    const ticket = topology.client(TicketService, "ticket");
    const credentials =
      options.credentials ??
      new IssuedServiceToken(identity, gateway.service.name, gateway.service.secret ?? "");
    const addresses = new ClientAddressResolver(gateway.trustedProxies);
    const cors = new CorsPolicy(gateway.cors.origins, gateway.cors.maxAgeSec);
    const limiter = new RateLimiter({
      perSecond: gateway.rateLimit.perSecond,
      burst: gateway.rateLimit.burst,
    });
    const legacyLogger = logger.child({ component: "legacy-api" });
    const legacy = new LegacyApi(
      options.legacyBackend ??
        new ConnectLegacyBackend({ identity, ticket, credentials, logger: legacyLogger }),
      { maxBodyBytes: gateway.limits.legacyBodyBytes, maxEmailBytes: gateway.limits.emailBodyBytes },
      legacyLogger,
    );

    const { auth: authConfig } = gateway;
    const tokens = new AccessTokenVerifier({
      issuer: authConfig.issuer,
      audience: authConfig.audience,
      keys: new CachedJwks(authConfig.jwksUrl ? jwksFromUrl(authConfig.jwksUrl) : jwksFromIdentity(identity))
        .getKey,
    });
    const oidc = authConfig.oidc
      ? {
          issuer: authConfig.oidc.issuer,
          audience: authConfig.oidc.audience,
          keys: new CachedJwks(jwksFromUrl(authConfig.oidc.jwksUrl)).getKey,
        }
      : undefined;
    const auth = edgeAuthInterceptor({
      tokens,
      oidc,
      rateLimiter: limiter,
      exchangeApiKey: async (apiKey, clientIp, signal) => {
        const res = await identity.checkApiKey(
          { apiKey, clientIp, purpose: ApiKeyPurpose.SCOPED },
          { signal, headers: { authorization: await credentials.authorization(signal) } },
        );
        const until = res.outcome === ApiKeyCheckOutcome.OK ? reusableUntilMs(res, Date.now()) : undefined;
        return {
          outcome: res.outcome,
          token: res.tokens?.accessToken ?? "",
          principal: res.principal,
          ...(until === undefined ? {} : { reusableUntilMs: until }),
        };
      },
    });
    // Metrics live in the process's registry, known once the process has started (attach()).
    const observe: Interceptor = (next) => {
      let bound: ReturnType<Interceptor> | undefined;
      let boundTo: ProcessMetrics | undefined;
      return (req) => {
        const metrics = this.#metrics;
        if (!metrics) return next(req);
        if (boundTo !== metrics) {
          bound = observeInterceptor(metrics, logger)(next);
          boundTo = metrics;
        }
        return (bound ?? next)(req);
      };
    };
    const rpc = connectNodeAdapter({
      routes: forwarderRoutes({ services, transport: (s) => topology.transport(owningService(s)) }),
      interceptors: [
        serverTracingInterceptor(),
        observe,
        serverDeadlineInterceptor(config.timing.requestTimeoutMs),
        errorMappingInterceptor(),
        auth,
      ],
      readMaxBytes: config.limits.maxMessageBytes,
      writeMaxBytes: config.limits.maxMessageBytes,
      contextValues: (req) =>
        createContextValues().set(
          clientIpKey,
          addresses.resolve(req.socket.remoteAddress, req.headers["x-forwarded-for"]),
        ),
      fallback: (_req, res) => {
        res.writeHead(404, { "content-type": "text/plain; charset=utf-8", "content-length": "9" });
        res.end("Not Found");
      },
    });
    this.openApi = JSON.stringify(buildOpenApi(services));
    // /.well-known/jwks.json: identity's public keys for verifiers outside the mesh (src/jwks.ts).
    this.jwks = new JwksDocument({
      load: jwksFromIdentity(identity),
      logger: logger.child({ component: "jwks" }),
    });
    const jwks = jwksHandler(this.jwks);

    this.handler = (req, res) => {
      if (cors.handle(req, res)) return;
      const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
      if (isLegacyPath(path)) {
        const clientIp = addresses.resolve(req.socket.remoteAddress, req.headers["x-forwarded-for"]);
        const header = req.headers["x-api-key"];
        const key = Array.isArray(header) ? header.join(", ") : header;
        const decision = limiter.take(key ? `key:${key}` : `ip:${clientIp}`);
        if (!decision.allowed) {
          sendEdge(res, 429, "Too Many Requests", { "retry-after": String(decision.retryAfterSec) });
          return;
        }
        legacy
          .handle(req, res, matchLegacyRoute(req.method ?? "GET", req.url ?? "/"), clientIp)
          .catch((error: unknown) => {
            logger.error({ err: error }, "legacy handler failed");
            if (!res.headersSent) sendEdge(res, 500, "");
          });
        return;
      }
      if (path === JWKS_PATH) {
        jwks(req, res);
        return;
      }
      if (
        (req.method === "GET" || req.method === "HEAD") &&
        (path === "/openapi.json" || path === "/docs" || path === "/docs/")
      ) {
        const json = path === "/openapi.json";
        const body = json ? Buffer.from(this.openApi) : DOCS_HTML;
        writeHead(res, 200, {
          "content-type": json ? "application/json; charset=utf-8" : "text/html; charset=utf-8",
          "content-length": String(body.length),
          "cache-control": "public, max-age=300",
        });
        if (req.method === "HEAD") res.end();
        else res.end(body);
        return;
      }
      rpc(req, res);
    };
  }

  /** Binds the edge to its process once started (RPC metrics go to the process's registry). */
  attach(process: { metrics: ProcessMetrics }): void {
    this.#metrics = process.metrics;
  }
}
