/**
 * Authentication at the edge, before anything is forwarded:
 *  - `Authorization: Bearer <ostmesh access token>`: verified locally with the identity service's JWKS;
 *  - `Authorization: Bearer <OIDC token>` of the configured provider: signature, issuer, audience and
 *    lifetime verified locally (the services map it to an account);
 *  - `X-API-Key` or `Authorization: Bearer osm_…`: exchanged through IdentityService.CheckApiKey (scoped
 *    purpose) for a short-lived access token, on every request (revocation takes effect at once);
 *  - nothing: anonymous, allowed only for procedures whose access rule lists ANONYMOUS.
 * A bad credential, or none where one is needed, is UNAUTHENTICATED here; a known principal is also
 * checked against the procedure's access rule (the services check everything again). Every caller is
 * rate-limited by its credential, or by its address when it has none.
 */

import { createHash } from "node:crypto";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { checkAccessRule } from "@ostmesh/kit/auth/access.ts";
import { isOstmeshKey } from "@ostmesh/kit/auth/api-keys.ts";
import type { AccessTokenVerifier } from "@ostmesh/kit/auth/verify.ts";
import { unverifiedIssuer } from "@ostmesh/kit/auth/verify.ts";
import { BoundedMap } from "@ostmesh/kit/cache/bounded-map.ts";
import { accessRuleOf } from "@ostmesh/proto";
import type { Principal } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { ApiKeyCheckOutcome } from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";
import { type JWTVerifyGetKey, jwtVerify } from "jose";
import type { RateLimiter } from "../rate-limit.ts";
import { clientIpKey, forwardAuthorizationKey } from "../rpc/forwarder.ts";

export type ApiKeyExchange = (
  apiKey: string,
  clientIp: string,
  signal: AbortSignal,
) => Promise<{
  outcome: ApiKeyCheckOutcome;
  token: string;
  principal: Principal | undefined;
}>;

export interface OidcEdgeOptions {
  issuer: string;
  audience: string;
  keys: JWTVerifyGetKey;
}

export interface EdgeAuthOptions {
  tokens: AccessTokenVerifier;
  oidc?: OidcEdgeOptions;
  exchangeApiKey: ApiKeyExchange;
  rateLimiter: RateLimiter;
}

const OIDC_ALGORITHMS = ["RS256", "PS256", "ES256", "ES384", "EdDSA"];

function unauthenticated(): ConnectError {
  // One message for every bad credential: no hint which part was wrong.
  return new ConnectError("invalid or expired credentials", Code.Unauthenticated);
}

interface Authenticated {
  /** Known here (ostmesh tokens and API keys); undefined for OIDC tokens and anonymous callers. */
  principal: Principal | undefined;
  anonymous: boolean;
  /** Authorization header to send upstream. */
  forward: string | undefined;
}

function credentialOf(header: Headers): { bearer?: string; apiKey?: string } {
  const authorization = header.get("authorization");
  const match = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  const apiKey = header.get("x-api-key") ?? undefined;
  if (authorization && !match) return { bearer: "" }; // malformed: rejected below
  return { bearer: match?.[1], apiKey: apiKey || undefined };
}

/**
 * Tokens verified recently, until they expire: a client sends the same access token with every call, and
 * a signature check per call is most of the edge's CPU. (Revocation is the services' check, not the edge's.)
 */
class VerifiedTokens {
  readonly #entries = new BoundedMap<string, { principal: Principal | undefined }>({ limit: 10_000 });

  get(token: string): { principal: Principal | undefined } | undefined {
    return this.#entries.get(token);
  }

  set(token: string, principal: Principal | undefined, exp: unknown): void {
    if (typeof exp === "number") this.#entries.set(token, { principal }, exp * 1000);
  }
}

export function edgeAuthInterceptor(options: EdgeAuthOptions): Interceptor {
  const verified = new VerifiedTokens();
  const authenticate = async (
    header: Headers,
    clientIp: string,
    signal: AbortSignal,
  ): Promise<Authenticated> => {
    const { bearer, apiKey } = credentialOf(header);
    const key =
      bearer !== undefined && isOstmeshKey(bearer) ? bearer : bearer === undefined ? apiKey : undefined;
    if (key !== undefined) {
      const exchanged = await options.exchangeApiKey(key, clientIp, signal);
      if (exchanged.outcome !== ApiKeyCheckOutcome.OK || !exchanged.token) throw unauthenticated();
      return { principal: exchanged.principal, anonymous: false, forward: `Bearer ${exchanged.token}` };
    }
    if (bearer === undefined) return { principal: undefined, anonymous: true, forward: undefined };
    if (bearer === "") throw unauthenticated();
    const known = verified.get(bearer);
    if (known) return { principal: known.principal, anonymous: false, forward: `Bearer ${bearer}` };
    const issuer = unverifiedIssuer(bearer);
    if (issuer !== undefined && issuer === options.tokens.issuer) {
      try {
        const result = await options.tokens.verify(bearer);
        verified.set(bearer, result.principal, result.payload.exp);
        return { principal: result.principal, anonymous: false, forward: `Bearer ${bearer}` };
      } catch {
        throw unauthenticated();
      }
    }
    const oidc = options.oidc;
    if (oidc && issuer === oidc.issuer) {
      try {
        const { payload } = await jwtVerify(bearer, oidc.keys, {
          issuer: oidc.issuer,
          audience: oidc.audience,
          algorithms: OIDC_ALGORITHMS,
          requiredClaims: ["exp"],
          clockTolerance: 30,
        });
        verified.set(bearer, undefined, payload.exp);
      } catch {
        throw unauthenticated();
      }
      return { principal: undefined, anonymous: false, forward: `Bearer ${bearer}` };
    }
    throw unauthenticated();
  };

  return (next) => async (req) => {
    const clientIp = req.contextValues.get(clientIpKey);
    const { bearer, apiKey } = credentialOf(req.header);
    const credential = bearer || apiKey;
    const caller = credential
      ? `cred:${createHash("sha256").update(credential).digest("base64url")}`
      : `ip:${clientIp}`;
    const decision = options.rateLimiter.take(caller);
    if (!decision.allowed)
      throw new ConnectError("rate limit exceeded, retry later", Code.ResourceExhausted, {
        "retry-after": String(decision.retryAfterSec),
      });

    const auth = await authenticate(req.header, clientIp, req.signal);
    const rule = accessRuleOf(req.method);
    if (auth.anonymous) {
      if (!rule?.allowed.includes(PrincipalKind.ANONYMOUS))
        throw new ConnectError("authentication required", Code.Unauthenticated);
    } else if (auth.principal) {
      const verdict = checkAccessRule(rule, auth.principal);
      if (!verdict.allowed) throw new ConnectError(verdict.reason, verdict.code);
    }
    req.contextValues.set(forwardAuthorizationKey, auth.forward);
    return next(req);
  };
}
