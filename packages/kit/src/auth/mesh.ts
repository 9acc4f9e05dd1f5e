import type { Client, Interceptor } from "@connectrpc/connect";
import type { IdentityService } from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";
import type { Logger } from "pino";
import { type AuthConfig, loadAuthConfig } from "./config.ts";
import { oidcAccountResolver } from "./directory.ts";
import { authInterceptor } from "./interceptor.ts";
import { CachedJwks, type JwksLoader, jwksFromIdentity, jwksFromUrl } from "./jwks.ts";
import { mysqlQuery, type SqlQuery } from "./sql.ts";
import { AccessTokenVerifier, OidcVerifier } from "./verify.ts";

export interface MeshAuthOptions {
  /** Defaults to loadAuthConfig(process.env). */
  config?: AuthConfig;
  /** Where ostmesh's JWKS comes from when OSTMESH_JWKS_URL is unset (e.g. topology.client(IdentityService, "identity")). */
  identity?: Client<typeof IdentityService>;
  /** Or any loader (the identity service passes its own key store). */
  jwks?: JwksLoader;
  /** Database reads for API keys and revalidation: a query function, or a URL to open a small pool on. */
  db?: SqlQuery;
  databaseUrl?: string;
  logger?: Logger;
}

export interface MeshAuth {
  readonly interceptor: Interceptor;
  readonly tokens: AccessTokenVerifier;
  readonly oidc: OidcVerifier | undefined;
  readonly db: SqlQuery | undefined;
  close(): Promise<void>;
}

/**
 * Everything a process needs to authenticate and authorize its RPCs, built from the environment:
 *
 *   const auth = createMeshAuth({ identity: topology.client(IdentityService, "identity"),
 *                                 databaseUrl: config.databaseUrl, logger });
 *   startServiceProcess({ ..., interceptors: [auth.interceptor], onShutdown: [auth.close] });
 */
export function createMeshAuth(options: MeshAuthOptions): MeshAuth {
  const config = options.config ?? loadAuthConfig();
  const loader =
    options.jwks ??
    (config.jwksUrl
      ? jwksFromUrl(config.jwksUrl)
      : options.identity
        ? jwksFromIdentity(options.identity)
        : undefined);
  if (!loader) throw new Error("createMeshAuth needs OSTMESH_JWKS_URL, an identity client or a JWKS loader");
  const tokens = new AccessTokenVerifier({
    issuer: config.issuer,
    audience: config.audience,
    keys: new CachedJwks(loader).getKey,
  });
  const pool = options.db ? undefined : options.databaseUrl ? mysqlQuery(options.databaseUrl) : undefined;
  const db = options.db ?? pool?.query;
  let oidc: OidcVerifier | undefined;
  if (config.oidc) {
    if (!db) throw new Error("OIDC mode needs database access to map accounts");
    oidc = new OidcVerifier({
      issuer: config.oidc.issuer,
      audience: config.oidc.audience,
      keys: new CachedJwks(jwksFromUrl(config.oidc.jwksUrl)).getKey,
      claim: config.oidc.claim,
      resolve: oidcAccountResolver(db, config.oidc.accounts),
    });
  }
  const interceptor = authInterceptor({
    tokens,
    oidc,
    db,
    revalidate: config.revalidate,
    logger: options.logger,
  });
  return {
    interceptor,
    tokens,
    oidc,
    db,
    close: async () => {
      await pool?.close();
    },
  };
}
