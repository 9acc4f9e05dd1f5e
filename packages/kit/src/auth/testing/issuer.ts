import type { Principal } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import {
  ACCESS_TOKEN_TYPE,
  DEFAULT_AUDIENCE,
  DEFAULT_ISSUER,
  type KeyBinding,
  principalClaims,
} from "../claims.ts";
import { CachedJwks } from "../jwks.ts";
import { AccessTokenVerifier } from "../verify.ts";

/**
 * A real ES256 token issuer for tests of services that verify ostmesh tokens (ticket, attachment, ...):
 * it signs exactly what the identity service signs, and its verifier checks exactly what production
 * verifiers check. No shortcut: the verifier gets the public keys through a JWKS loader.
 */
export interface TestIssuer {
  readonly issuer: string;
  readonly audience: string;
  readonly verifier: AccessTokenVerifier;
  /** The published keys (a rotation adds one). */
  readonly jwks: { keys: JWK[] };
  sign(
    principal: Principal,
    options?: { ttlSec?: number; sessionId?: string; jti?: string; keyBinding?: KeyBinding },
  ): Promise<string>;
  /** A new signing key (the old one stays published). */
  rotate(): Promise<void>;
}

export async function createTestIssuer(
  options: { issuer?: string; audience?: string } = {},
): Promise<TestIssuer> {
  const issuer = options.issuer ?? DEFAULT_ISSUER;
  const audience = options.audience ?? DEFAULT_AUDIENCE;
  const jwks: { keys: JWK[] } = { keys: [] };
  let current: { kid: string; key: CryptoKey } | undefined;
  let counter = 0;
  const rotate = async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
    const kid = `test-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
    jwks.keys.push({ ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" });
    current = { kid, key: privateKey };
  };
  await rotate();
  const verifier = new AccessTokenVerifier({
    issuer,
    audience,
    keys: new CachedJwks(async () => ({ keys: [...jwks.keys] }), { cooldownMs: 0 }).getKey,
  });
  return {
    issuer,
    audience,
    verifier,
    jwks,
    rotate,
    async sign(principal, o = {}) {
      if (!current) throw new Error("no signing key");
      const claims = principalClaims(principal, o.sessionId, o.keyBinding);
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({
        ost: claims.ost,
        ...(claims.sid ? { sid: claims.sid } : {}),
        ...(claims.okb ? { okb: claims.okb } : {}),
      })
        .setProtectedHeader({ alg: "ES256", kid: current.kid, typ: ACCESS_TOKEN_TYPE })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(claims.sub)
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + (o.ttlSec ?? 300))
        .setJti(o.jti ?? `jti-${++counter}`)
        .sign(current.key);
    },
  };
}
