/**
 * Authentication at the edge, before anything is forwarded:
 *  - `Authorization: Bearer <ostmesh access token>`: verified locally with the identity service's JWKS;
 *  - `Authorization: Bearer <OIDC token>` of the configured provider: signature, issuer, audience and
 *    lifetime verified locally (the services map it to an account);
 *  - `X-API-Key` or `Authorization: Bearer osm_…`: exchanged through IdentityService.CheckApiKey (scoped
 *    purpose) for a short-lived access token. A token bound to the key (`bound`) is kept for later unary
 *    calls with the same key from the same address (key-tokens.ts): the services re-read the key behind it
 *    and refuse it once the key would fail the check (revoked, expired, the address no longer allowed), and
 *    then the key is checked again here before anything is answered, so a change to a key still applies to
 *    the very next call;
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
import {
  ApiKeyCheckOutcome,
  ApiKeyPurpose,
} from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";
import { type JWTVerifyGetKey, jwtVerify } from "jose";
import type { RateLimiter } from "../rate-limit.ts";
import { clientIpKey, forwardAuthorizationKey } from "../rpc/forwarder.ts";
import { BoundKeyTokens } from "./key-tokens.ts";

export type ApiKeyExchange = (
  apiKey: string,
  clientIp: string,
  signal: AbortSignal,
) => Promise<{
  outcome: ApiKeyCheckOutcome;
  token: string;
  principal: Principal | undefined;
  /** Set for a token bound to the key: until when it may be reused (see reusableUntilMs). */
  reusableUntilMs?: number;
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
  /** The kept token of an API key (see BoundKeyTokens), not one CheckApiKey answered for this call. */
  kept?: boolean;
}

/** A kept token of an API key, with the principal CheckApiKey answered for it. */
interface KeptKeyToken {
  token: string;
  principal: Principal | undefined;
}

const SCOPED = ApiKeyPurpose.SCOPED;

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
  const keyTokens = new BoundKeyTokens<KeptKeyToken>({ limit: 1000 });
  /** `reuse`: a kept token of an API key may stand in for CheckApiKey. */
  const authenticate = async (
    header: Headers,
    clientIp: string,
    signal: AbortSignal,
    reuse: boolean,
  ): Promise<Authenticated> => {
    const { bearer, apiKey } = credentialOf(header);
    const key =
      bearer !== undefined && isOstmeshKey(bearer) ? bearer : bearer === undefined ? apiKey : undefined;
    if (key !== undefined) {
      const kept = reuse ? keyTokens.get(key, clientIp, SCOPED) : undefined;
      if (kept)
        return {
          principal: kept.principal,
          anonymous: false,
          forward: `Bearer ${kept.token}`,
          kept: true,
        };
      const exchanged = await options.exchangeApiKey(key, clientIp, signal);
      if (exchanged.outcome !== ApiKeyCheckOutcome.OK || !exchanged.token) {
        keyTokens.forget(key, clientIp, SCOPED);
        throw unauthenticated();
      }
      if (exchanged.reusableUntilMs === undefined) keyTokens.forget(key, clientIp, SCOPED);
      else
        keyTokens.remember(
          key,
          clientIp,
          SCOPED,
          { token: exchanged.token, principal: exchanged.principal },
          exchanged.reusableUntilMs,
        );
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

    // Kept key tokens serve unary calls only: one the services refuse is then sent once more, which a
    // streamed request body could not be.
    const unary = req.method.methodKind === "unary";
    const rule = accessRuleOf(req.method);
    const permit = (auth: Authenticated) => {
      if (auth.anonymous) {
        if (!rule?.allowed.includes(PrincipalKind.ANONYMOUS))
          throw new ConnectError("authentication required", Code.Unauthenticated);
      } else if (auth.principal) {
        const verdict = checkAccessRule(rule, auth.principal);
        if (!verdict.allowed) throw new ConnectError(verdict.reason, verdict.code);
      }
    };
    let auth = await authenticate(req.header, clientIp, req.signal, unary);
    try {
      permit(auth);
    } catch (error) {
      // The kept principal is as the key was when checked: a scope granted since is the key's check's to say.
      if (!auth.kept) throw error;
      auth = await authenticate(req.header, clientIp, req.signal, false);
      permit(auth);
    }
    req.contextValues.set(forwardAuthorizationKey, auth.forward);
    if (!auth.kept) return next(req);
    try {
      return await next(req);
    } catch (error) {
      if (req.signal.aborted || ConnectError.from(error).code !== Code.Unauthenticated) throw error;
      // A service refused the kept token: the key changed since it was checked (or the token did). Nothing
      // was done with it, so the key's check decides: refused here as any bad credential, or sent again with
      // the new token. A procedure open to anonymous callers (Login, Refresh) refuses for reasons of its own
      // too: there the answer stands once the key has passed.
      const fresh = await authenticate(req.header, clientIp, req.signal, false);
      permit(fresh);
      if (rule?.allowed.includes(PrincipalKind.ANONYMOUS)) throw error;
      req.contextValues.set(forwardAuthorizationKey, fresh.forward);
      return next(req);
    }
  };
}
