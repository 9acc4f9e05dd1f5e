import { clone, fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import {
  type Principal,
  PrincipalKind,
  PrincipalSchema,
} from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { subjectOf } from "./principal.ts";

/**
 * The layout of ostmesh access tokens, shared by the issuer (identity service) and every verifier.
 *
 *   header  { alg: "ES256" | "EdDSA", kid, typ: "at+jwt" }            (RFC 9068 access-token type)
 *   payload { iss, aud, sub, iat, nbf, exp, jti, sid?, okb?, ost }
 *
 * `ost` is the principal in protobuf JSON form (kind, ids, names, scopes, agent authority); `sub` repeats
 * its stable subject (`agent:1`, `user:5`, ...) and must agree with it. `sid` is the refresh-token family
 * (the login session) the token was issued from; revoking the family ends the session. `okb` binds a
 * token issued for an osTicket API key to that key's row as it was checked (see KeyBinding).
 */
export const ACCESS_TOKEN_TYPE = "at+jwt";
/** Signature algorithms ostmesh issues; verifiers accept nothing else (no "none", no HMAC). */
export const OSTMESH_TOKEN_ALGORITHMS = ["ES256", "EdDSA"] as const;
export type OstmeshTokenAlgorithm = (typeof OSTMESH_TOKEN_ALGORITHMS)[number];

export const DEFAULT_ISSUER = "urn:ostmesh:identity";
export const DEFAULT_AUDIENCE = "urn:ostmesh:api";

/** Principal kinds a token may carry: SYSTEM and ANONYMOUS never travel in a token. */
const TOKEN_KINDS: ReadonlySet<PrincipalKind> = new Set([
  PrincipalKind.AGENT,
  PrincipalKind.END_USER,
  PrincipalKind.API_KEY,
  PrincipalKind.SERVICE,
]);

export interface AccessTokenClaims {
  sub: string;
  ost: JsonValue;
  sid?: string;
  okb?: KeyBinding;
}

/**
 * What an API key's token is bound to, so that a token reused for later requests from the same address with
 * the same key never outlives a change to the key: a service that re-reads its callers refuses the token
 * once the key would fail the check CheckApiKey made.
 * - osTicket key: the key's row as CheckApiKey matched it, by its `ipaddr` and the SHA-256 (hex) of its
 *   `apikey` (osTicket matches a key by both columns); refused once the row no longer holds both.
 * - ostmesh key: the client address it was checked from and the SHA-256 of the key (its `secret_hash`);
 *   refused once the key's allowed addresses no longer admit that address (or its hash differs), besides
 *   revocation and expiry.
 */
export interface KeyBinding {
  ip: string;
  key: string;
}

/** The private claims of an access token for `principal` (registered claims are added by the signer). */
export function principalClaims(
  principal: Principal,
  sessionId?: string,
  keyBinding?: KeyBinding,
): AccessTokenClaims {
  const kind = principal.actor?.kind ?? PrincipalKind.UNSPECIFIED;
  if (!TOKEN_KINDS.has(kind)) throw new Error(`a ${PrincipalKind[kind]} principal cannot be put in a token`);
  // credential_id is the token's own jti; verifiers set it from that claim.
  const carried = clone(PrincipalSchema, principal);
  carried.credentialId = "";
  const claims: AccessTokenClaims = { sub: subjectOf(principal), ost: toJson(PrincipalSchema, carried) };
  if (sessionId) claims.sid = sessionId;
  if (keyBinding) {
    if (principal.actor?.kind !== PrincipalKind.API_KEY)
      throw new Error("only an API key's token can be bound to a key");
    claims.okb = { ip: keyBinding.ip, key: keyBinding.key };
  }
  return claims;
}

/** The key binding of a verified token payload, if it has one; throws when `okb` is malformed. */
export function keyBindingFromClaims(payload: Readonly<Record<string, unknown>>): KeyBinding | undefined {
  const raw = payload.okb;
  if (raw === undefined) return undefined;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new Error("okb is not an object");
  const { ip, key } = raw as Record<string, unknown>;
  if (typeof ip !== "string" || typeof key !== "string" || !/^[0-9a-f]{64}$/.test(key))
    throw new Error("okb must hold an ip and a SHA-256 key hash");
  return { ip, key };
}

/**
 * The principal carried by a verified token payload; throws when the payload is not a well-formed ostmesh
 * principal or its subject disagrees with `sub`.
 */
export function principalFromClaims(payload: Readonly<Record<string, unknown>>): Principal {
  const raw = payload.ost;
  if (raw === undefined || raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new Error("the token carries no principal");
  const principal = fromJson(PrincipalSchema, toJsonValue(raw), { ignoreUnknownFields: false });
  const kind = principal.actor?.kind ?? PrincipalKind.UNSPECIFIED;
  if (!TOKEN_KINDS.has(kind)) throw new Error("the token's principal kind is not allowed in tokens");
  if (payload.sub !== subjectOf(principal)) throw new Error("the token's sub does not match its principal");
  principal.credentialId = typeof payload.jti === "string" ? payload.jti : "";
  return principal;
}

function toJsonValue(value: unknown): JsonValue {
  // jose parsed the payload with JSON.parse, so every value is JSON; re-check instead of casting.
  if (value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean")
    return value;
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (typeof value === "object") {
    const out: { [k: string]: JsonValue } = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJsonValue(v);
    return out;
  }
  throw new Error("the token payload is not JSON");
}
