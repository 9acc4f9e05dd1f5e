import { type EnvSource, env, loadConfig } from "../config/env.ts";
import { DEFAULT_AUDIENCE, DEFAULT_ISSUER } from "./claims.ts";
import type { OidcAccountKinds } from "./directory.ts";

/** How every ostmesh process verifies credentials (read from the environment). */
export interface AuthConfig {
  /** OSTMESH_JWT_ISSUER: `iss` of ostmesh access tokens. */
  readonly issuer: string;
  /** OSTMESH_JWT_AUDIENCE: `aud` of ostmesh access tokens. */
  readonly audience: string;
  /**
   * OSTMESH_JWKS_URL: where to fetch ostmesh's public keys over HTTP; unset = ask the identity service
   * (IdentityService.GetJwks at IDENTITY_URL, in-process when co-hosted).
   */
  readonly jwksUrl: string | undefined;
  /** OSTMESH_AUTH_REVALIDATE: re-read agents, users, sessions and keys on every request (default true). */
  readonly revalidate: boolean;
  /** OIDC resource-server mode; undefined when OIDC_ISSUER is unset. */
  readonly oidc: OidcConfig | undefined;
}

export interface OidcConfig {
  /** OIDC_ISSUER: the provider's issuer URL, exactly as in its tokens. */
  readonly issuer: string;
  /** OIDC_JWKS_URL: the provider's jwks_uri. */
  readonly jwksUrl: string;
  /** OIDC_AUDIENCE: the audience the provider puts in tokens for ostmesh. */
  readonly audience: string;
  /** OIDC_CLAIM: claim that names the account, "email" (default) or e.g. "sub", "preferred_username". */
  readonly claim: string;
  /** OIDC_ACCOUNTS: agent | end_user | agent_then_end_user (default). */
  readonly accounts: OidcAccountKinds;
}

const HTTP_URL = { protocols: ["http:", "https:"] } as const;
const ACCOUNT_KINDS = ["agent_then_end_user", "agent", "end_user"] as const;

export function loadAuthConfig(source: EnvSource = process.env): AuthConfig {
  return loadConfig((read) => {
    const oidcIssuer = read(env.string("OIDC_ISSUER").optional());
    const oidc =
      oidcIssuer === undefined
        ? undefined
        : {
            issuer: oidcIssuer,
            jwksUrl: read(env.url("OIDC_JWKS_URL", HTTP_URL)),
            audience: read(env.string("OIDC_AUDIENCE")),
            claim: read(env.string("OIDC_CLAIM", { pattern: /^[A-Za-z0-9_.:-]+$/ }).default("email")),
            accounts: read(env.enum("OIDC_ACCOUNTS", ACCOUNT_KINDS).default("agent_then_end_user")),
          };
    return {
      issuer: read(env.string("OSTMESH_JWT_ISSUER").default(DEFAULT_ISSUER)),
      audience: read(env.string("OSTMESH_JWT_AUDIENCE").default(DEFAULT_AUDIENCE)),
      jwksUrl: read(env.url("OSTMESH_JWKS_URL", HTTP_URL).optional()),
      revalidate: read(env.bool("OSTMESH_AUTH_REVALIDATE").default(true)),
      oidc,
    };
  }, source);
}
