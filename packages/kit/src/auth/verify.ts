import { clone } from "@bufbuild/protobuf";
import { type Principal, PrincipalSchema } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import {
  type CompactJWSHeaderParameters,
  decodeJwt,
  decodeProtectedHeader,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import { BoundedMap } from "../cache/bounded-map.ts";
import {
  ACCESS_TOKEN_TYPE,
  type KeyBinding,
  keyBindingFromClaims,
  OSTMESH_TOKEN_ALGORITHMS,
  principalFromClaims,
} from "./claims.ts";

/** A credential was presented but is not acceptable; `reason` is for logs only, never for the client. */
export class CredentialError extends Error {
  override name = "CredentialError";
}

export interface VerifiedToken {
  principal: Principal;
  payload: JWTPayload;
  /** The refresh-token family (login session) the token came from, when it has one. */
  sessionId: string | undefined;
  /** The API key the token is bound to (`okb`, see KeyBinding), when it has one. */
  keyBinding?: KeyBinding;
}

export interface AccessTokenVerifierOptions {
  /** Expected `iss`. */
  issuer: string;
  /** Expected `aud` (one of the token's audiences). */
  audience: string;
  /** Key resolver, usually `new CachedJwks(...).getKey`. */
  keys: JWTVerifyGetKey;
  /** Allowed clock skew in seconds (default 30). */
  clockToleranceSec?: number;
  now?: () => Date;
  /**
   * How many verified tokens are remembered (default 10,000; 0 = none). A token seen again is accepted
   * without a second signature check until it expires: the same bytes can only verify the same way. Its key
   * is still looked up each time, so a key withdrawn from the key set ends its tokens here too.
   */
  cacheSize?: number;
}

interface RememberedToken {
  header: CompactJWSHeaderParameters;
  principal: Principal;
  payload: JWTPayload;
  sessionId: string | undefined;
  keyBinding: KeyBinding | undefined;
}

/**
 * Verifies ostmesh access tokens locally: signature by a key of the identity service's JWKS (ES256 or
 * EdDSA only — "none" and HMAC are never accepted, so a public key can never serve as an HMAC secret),
 * typ at+jwt, issuer, audience, exp/nbf/iat with a small tolerance, and a well-formed principal.
 */
export class AccessTokenVerifier {
  readonly issuer: string;
  readonly #options: AccessTokenVerifierOptions;
  /** Verified tokens until their `exp`. */
  readonly #remembered: BoundedMap<string, RememberedToken>;

  constructor(options: AccessTokenVerifierOptions) {
    this.issuer = options.issuer;
    this.#options = options;
    const { now } = options;
    this.#remembered = new BoundedMap({
      limit: Math.max(1, options.cacheSize ?? 10_000),
      ...(now ? { now: () => now().getTime() } : {}),
    });
  }

  /** Whether `token` was verified here and is still remembered (it is then one of ours, not yet expired). */
  remembers(token: string): boolean {
    return this.#remembered.get(token) !== undefined;
  }

  async verify(token: string): Promise<VerifiedToken> {
    const remembered = this.#remembered.get(token);
    if (remembered) {
      if (await this.#keyStillPublished(token, remembered.header))
        // Callers may narrow or annotate the principal they get: each gets its own copy.
        return {
          principal: clone(PrincipalSchema, remembered.principal),
          payload: remembered.payload,
          sessionId: remembered.sessionId,
          keyBinding: remembered.keyBinding,
        };
      this.#remembered.delete(token);
    }
    const { header, ...verified } = await this.#verifySignedToken(token);
    if ((this.#options.cacheSize ?? 10_000) > 0 && typeof verified.payload.exp === "number")
      this.#remembered.set(
        token,
        {
          header,
          principal: clone(PrincipalSchema, verified.principal),
          payload: verified.payload,
          sessionId: verified.sessionId,
          keyBinding: verified.keyBinding,
        },
        verified.payload.exp * 1000,
      );
    return verified;
  }

  async #keyStillPublished(token: string, header: CompactJWSHeaderParameters): Promise<boolean> {
    const [protectedHeader = "", payload = "", signature = ""] = token.split(".");
    try {
      await this.#options.keys(header, { protected: protectedHeader, payload, signature });
      return true;
    } catch {
      return false;
    }
  }

  /** Drops expired entries, then the oldest ones, until there is room for one more. */
  async #verifySignedToken(token: string): Promise<VerifiedToken & { header: CompactJWSHeaderParameters }> {
    const o = this.#options;
    let payload: JWTPayload;
    let header: CompactJWSHeaderParameters;
    try {
      ({ payload, protectedHeader: header } = await jwtVerify(token, o.keys, {
        algorithms: [...OSTMESH_TOKEN_ALGORITHMS],
        issuer: o.issuer,
        audience: o.audience,
        typ: ACCESS_TOKEN_TYPE,
        clockTolerance: o.clockToleranceSec ?? 30,
        requiredClaims: ["exp", "iat", "sub", "jti"],
        ...(o.now ? { currentDate: o.now() } : {}),
      }));
    } catch (error) {
      throw new CredentialError(`access token rejected: ${describeJoseError(error)}`);
    }
    try {
      const principal = principalFromClaims(payload);
      const sessionId = typeof payload.sid === "string" ? payload.sid : undefined;
      return { principal, payload, sessionId, keyBinding: keyBindingFromClaims(payload), header };
    } catch (error) {
      throw new CredentialError(`access token rejected: ${error instanceof Error ? error.message : "bad"}`);
    }
  }
}

/** Which claim of an external token names the ostmesh account, and which accounts it may name. */
export interface OidcOptions {
  /** The provider's issuer URL, exactly as in its tokens' `iss`. */
  issuer: string;
  /** Our audience at the provider (its tokens' `aud` must include it). */
  audience: string;
  /** Key resolver over the provider's jwks_uri (`new CachedJwks(jwksFromUrl(uri)).getKey`). */
  keys: JWTVerifyGetKey;
  /** Algorithms the provider signs with (default RS256, PS256, ES256, ES384, EdDSA; never HS* or none). */
  algorithms?: readonly string[];
  /** Claim mapped to an account: "email" (default) matches e-mail addresses, anything else usernames. */
  claim?: string;
  /** Maps the verified claim value to a principal; undefined = no such (active) account. */
  resolve: (claim: string, value: string, payload: JWTPayload) => Promise<Principal | undefined>;
  clockToleranceSec?: number;
  now?: () => Date;
}

const DEFAULT_OIDC_ALGORITHMS = ["RS256", "PS256", "ES256", "ES384", "EdDSA"];

/**
 * OIDC resource-server mode: verifies an access token of an external identity provider (signature over the
 * provider's JWKS, issuer, audience, lifetime) and maps one claim to an osTicket agent or end user.
 */
export class OidcVerifier {
  readonly issuer: string;
  readonly #options: OidcOptions;

  constructor(options: OidcOptions) {
    const algorithms = options.algorithms ?? DEFAULT_OIDC_ALGORITHMS;
    if (algorithms.some((a) => a === "none" || a.startsWith("HS")))
      throw new Error("OIDC tokens must be verified with asymmetric algorithms only");
    this.issuer = options.issuer;
    this.#options = { ...options, algorithms };
  }

  async verify(token: string): Promise<VerifiedToken> {
    const o = this.#options;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, o.keys, {
        algorithms: [...(o.algorithms ?? DEFAULT_OIDC_ALGORITHMS)],
        issuer: o.issuer,
        audience: o.audience,
        clockTolerance: o.clockToleranceSec ?? 30,
        requiredClaims: ["exp"],
        ...(o.now ? { currentDate: o.now() } : {}),
      }));
    } catch (error) {
      throw new CredentialError(`OIDC token rejected: ${describeJoseError(error)}`);
    }
    const claim = o.claim ?? "email";
    const value = payload[claim];
    if (typeof value !== "string" || value.trim() === "")
      throw new CredentialError(`OIDC token rejected: no ${claim} claim`);
    if (claim === "email" && payload.email_verified === false)
      throw new CredentialError("OIDC token rejected: e-mail address not verified by the provider");
    const principal = await o.resolve(claim, value.trim(), payload);
    if (!principal) throw new CredentialError(`OIDC token rejected: no active account for its ${claim}`);
    principal.credentialId = `oidc:${typeof payload.jti === "string" ? payload.jti : (payload.sub ?? "")}`;
    return { principal, payload, sessionId: undefined };
  }
}

/** The `iss` of a compact JWT without verifying anything (to pick the verifier); undefined if not a JWT. */
export function unverifiedIssuer(token: string): string | undefined {
  try {
    decodeProtectedHeader(token);
    const iss = decodeJwt(token).iss;
    return typeof iss === "string" ? iss : undefined;
  } catch {
    return undefined;
  }
}

function describeJoseError(error: unknown): string {
  if (error instanceof Error) {
    const code = "code" in error && typeof error.code === "string" ? error.code : error.name;
    return `${code}: ${error.message}`;
  }
  return String(error);
}
