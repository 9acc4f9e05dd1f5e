/**
 * The gateway's own settings (the mesh-wide ones come from @ostmesh/kit's loadMeshConfig):
 *
 *   GATEWAY_CORS_ORIGINS      browser origins allowed to call the API, comma-separated ("*" = any); none
 *   GATEWAY_CORS_MAX_AGE      how long browsers may cache a preflight answer (default 2h)
 *   GATEWAY_TRUSTED_PROXIES   load balancers whose X-Forwarded-For is believed (IPs or CIDR ranges)
 *   GATEWAY_LEGACY_MAX_BODY   largest tickets.json / tickets.xml body (default 16MiB)
 *   GATEWAY_EMAIL_MAX_BODY    largest tickets.email body (default 32MiB)
 *   GATEWAY_RATE_LIMIT        requests per second per caller (API key, principal or IP); 0 = off (default 200)
 *   GATEWAY_RATE_BURST        bucket size per caller (default 2 x the rate)
 *   GATEWAY_SERVICE_NAME      the gateway's service name at the identity service (default "gateway")
 *   GATEWAY_SERVICE_SECRET    its service secret (IssueServiceToken); needed for the legacy API
 * and, shared with every process (@ostmesh/kit's loadAuthConfig): OSTMESH_JWT_ISSUER, OSTMESH_JWT_AUDIENCE,
 * OSTMESH_JWKS_URL (else the identity service's GetJwks), OIDC_ISSUER / OIDC_JWKS_URL / OIDC_AUDIENCE (an
 * external OpenID Connect provider whose tokens are verified here and mapped to accounts by the services).
 */
import { checkIpEntry } from "@ostmesh/kit/auth/api-keys.ts";
import { type AuthConfig, loadAuthConfig } from "@ostmesh/kit/auth/config.ts";
import { type EnvSource, env, loadConfig } from "@ostmesh/kit/config/env.ts";

export interface GatewayConfig {
  readonly cors: { readonly origins: readonly string[]; readonly maxAgeSec: number };
  readonly trustedProxies: readonly string[];
  readonly limits: { readonly legacyBodyBytes: number; readonly emailBodyBytes: number };
  readonly rateLimit: { readonly perSecond: number; readonly burst: number };
  readonly service: { readonly name: string; readonly secret: string | undefined };
  /** How tokens are verified: issuer, audience, JWKS location, OIDC provider. */
  readonly auth: AuthConfig;
}

function csv(raw: string): string[] {
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

export function loadGatewayConfig(source: EnvSource = process.env): GatewayConfig {
  const auth = loadAuthConfig(source);
  return loadConfig((read) => {
    const origins = csv(read(env.string("GATEWAY_CORS_ORIGINS").default("")));
    const proxies = csv(
      read(
        env
          .string("GATEWAY_TRUSTED_PROXIES")
          .default("")
          .refine((raw) => {
            const bad = csv(raw).map(checkIpEntry).find(Boolean);
            return bad;
          }),
      ),
    );
    const perSecond = read(env.number("GATEWAY_RATE_LIMIT", { min: 0 }).default(200));
    return {
      cors: {
        origins,
        maxAgeSec: Math.round(read(env.duration("GATEWAY_CORS_MAX_AGE").default(7_200_000)) / 1000),
      },
      trustedProxies: proxies,
      limits: {
        legacyBodyBytes: read(env.bytes("GATEWAY_LEGACY_MAX_BODY", { min: 1024 }).default(16 * 1024 * 1024)),
        emailBodyBytes: read(env.bytes("GATEWAY_EMAIL_MAX_BODY", { min: 1024 }).default(32 * 1024 * 1024)),
      },
      rateLimit: {
        perSecond,
        burst: read(env.number("GATEWAY_RATE_BURST", { min: 1 }).default(Math.max(1, perSecond * 2))),
      },
      service: {
        name: read(env.string("GATEWAY_SERVICE_NAME").default("gateway")),
        secret: read(env.string("GATEWAY_SERVICE_SECRET").optional()),
      },
      auth,
    };
  }, source);
}
