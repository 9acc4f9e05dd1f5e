import { create } from "@bufbuild/protobuf";
import {
  ApiKeyKind,
  PrincipalKind,
  PrincipalSchema,
} from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { base64url, exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT, UnsecuredJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { ACCESS_TOKEN_TYPE, principalClaims } from "./claims.ts";
import { CachedJwks } from "./jwks.ts";
import { createTestIssuer, type TestIssuer } from "./testing/issuer.ts";
import { AccessTokenVerifier, CredentialError } from "./verify.ts";

const agent = create(PrincipalSchema, {
  actor: { kind: PrincipalKind.AGENT, id: 7, displayName: "Ann Agent", username: "ann" },
  email: "ann@example.com",
  agent: {
    isAdmin: false,
    primaryDeptId: 1,
    roleId: 1,
    departments: [{ deptId: 1, roleId: 1, permissions: ["ticket.reply"] }],
    teamIds: [3],
  },
});

describe("ostmesh access-token verification", () => {
  let issuer: TestIssuer;
  let privateKey: CryptoKey;
  let kid: string;

  beforeAll(async () => {
    issuer = await createTestIssuer();
    // A second key pair whose public half we publish, so tests can hand-craft tokens around it.
    const pair = await generateKeyPair("ES256", { extractable: true });
    privateKey = pair.privateKey;
    kid = "crafted";
    issuer.jwks.keys.push({ ...(await exportJWK(pair.publicKey)), kid, alg: "ES256", use: "sig" });
  });

  const craft = (o: {
    claims?: Record<string, unknown>;
    header?: Record<string, unknown>;
    iat?: number;
    nbf?: number;
    exp?: number;
    iss?: string;
    aud?: string;
  }) => {
    const now = Math.floor(Date.now() / 1000);
    const c = principalClaims(agent);
    return new SignJWT({ ost: c.ost, ...o.claims })
      .setProtectedHeader({ alg: "ES256", kid, typ: ACCESS_TOKEN_TYPE, ...o.header })
      .setIssuer(o.iss ?? issuer.issuer)
      .setAudience(o.aud ?? issuer.audience)
      .setSubject(c.sub)
      .setIssuedAt(o.iat ?? now)
      .setNotBefore(o.nbf ?? now)
      .setExpirationTime(o.exp ?? now + 300)
      .setJti("j1")
      .sign(privateKey);
  };

  const rejects = async (token: string, reason: RegExp) => {
    const error = await issuer.verifier.verify(token).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CredentialError);
    expect(String(error)).toMatch(reason);
  };

  it("accepts a well-formed token and returns its principal with the jti as credential id", async () => {
    const verified = await issuer.verifier.verify(await craft({}));
    expect(verified.principal.actor?.id).toBe(7);
    expect(verified.principal.agent?.departments[0]?.permissions).toEqual(["ticket.reply"]);
    expect(verified.principal.credentialId).toBe("j1");
    expect(verified.sessionId).toBeUndefined();
  });

  it("rejects an expired token (beyond the 30 s tolerance)", async () => {
    const now = Math.floor(Date.now() / 1000);
    await rejects(await craft({ iat: now - 600, nbf: now - 600, exp: now - 31 }), /ERR_JWT_EXPIRED/);
  });

  it("rejects a token that is not valid yet", async () => {
    const now = Math.floor(Date.now() / 1000);
    await rejects(await craft({ nbf: now + 120 }), /nbf/);
  });

  it("rejects a wrong audience and a wrong issuer", async () => {
    await rejects(await craft({ aud: "urn:someone:else" }), /aud/);
    await rejects(await craft({ iss: "https://evil.example" }), /iss/);
  });

  it('rejects alg "none" (an unsigned token)', async () => {
    const c = principalClaims(agent);
    const unsigned = new UnsecuredJWT({ ost: c.ost })
      .setIssuer(issuer.issuer)
      .setAudience(issuer.audience)
      .setSubject(c.sub)
      .setIssuedAt()
      .setExpirationTime("5m")
      .setJti("n")
      .encode();
    await rejects(unsigned, /ERR_JOSE_ALG_NOT_ALLOWED|ERR_JWS_INVALID/);
  });

  it("rejects HS256 signed with the public key as the HMAC secret (key confusion)", async () => {
    const jwk: JWK | undefined = issuer.jwks.keys.find((k) => k.kid === kid);
    if (!jwk) throw new Error("no key");
    // Every plausible encoding of the public key an attacker could use as the secret.
    const secrets = [new TextEncoder().encode(JSON.stringify(jwk)), new TextEncoder().encode(jwk.x ?? "")];
    for (const secret of secrets) {
      const c = principalClaims(agent);
      const forged = await new SignJWT({ ost: c.ost })
        .setProtectedHeader({ alg: "HS256", kid, typ: ACCESS_TOKEN_TYPE })
        .setIssuer(issuer.issuer)
        .setAudience(issuer.audience)
        .setSubject(c.sub)
        .setIssuedAt()
        .setExpirationTime("5m")
        .setJti("h")
        .sign(secret);
      await rejects(forged, /ERR_JOSE_ALG_NOT_ALLOWED/);
    }
  });

  it("rejects a token signed with an attacker's key under a published kid, and an RS256 token", async () => {
    const attacker = await generateKeyPair("ES256");
    const c = principalClaims(agent);
    const build = () =>
      new SignJWT({ ost: c.ost })
        .setIssuer(issuer.issuer)
        .setAudience(issuer.audience)
        .setSubject(c.sub)
        .setIssuedAt()
        .setExpirationTime("5m")
        .setJti("x");
    await rejects(
      await build()
        .setProtectedHeader({ alg: "ES256", kid, typ: ACCESS_TOKEN_TYPE })
        .sign(attacker.privateKey),
      /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/,
    );
    const rsa = await generateKeyPair("RS256");
    await rejects(
      await build().setProtectedHeader({ alg: "RS256", kid, typ: ACCESS_TOKEN_TYPE }).sign(rsa.privateKey),
      /ERR_JOSE_ALG_NOT_ALLOWED/,
    );
    // The RSA public key itself as an HMAC secret (the classic RS/HS confusion) is refused as well.
    const pem = await exportSPKI(rsa.publicKey);
    await rejects(
      await build()
        .setProtectedHeader({ alg: "HS256", kid, typ: ACCESS_TOKEN_TYPE })
        .sign(new TextEncoder().encode(pem)),
      /ERR_JOSE_ALG_NOT_ALLOWED/,
    );
  });

  it("rejects a tampered payload and a tampered signature", async () => {
    const token = await craft({});
    const [h, p, s] = token.split(".");
    const payload = JSON.parse(new TextDecoder().decode(base64url.decode(p ?? "")));
    payload.ost.agent.isAdmin = true;
    const tamperedPayload = `${h}.${base64url.encode(JSON.stringify(payload))}.${s}`;
    await rejects(tamperedPayload, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
    const sig = base64url.decode(s ?? "");
    sig[0] = (sig[0] ?? 0) ^ 0xff;
    await rejects(`${h}.${p}.${base64url.encode(sig)}`, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
  });

  it("requires typ at+jwt, a jti, and a principal that agrees with sub", async () => {
    await rejects(await craft({ header: { typ: "JWT" } }), /typ/);
    const now = Math.floor(Date.now() / 1000);
    const noJti = await new SignJWT({ ost: principalClaims(agent).ost })
      .setProtectedHeader({ alg: "ES256", kid, typ: ACCESS_TOKEN_TYPE })
      .setIssuer(issuer.issuer)
      .setAudience(issuer.audience)
      .setSubject("agent:7")
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(privateKey);
    await rejects(noJti, /jti/);
    // The principal says agent 1 while sub says agent 7.
    const other = create(PrincipalSchema, { actor: { kind: PrincipalKind.AGENT, id: 1 } });
    await rejects(await craft({ claims: { ost: principalClaims(other).ost } }), /sub does not match/);
    await rejects(await craft({ claims: { ost: "agent" } }), /no principal/);
  });

  it("never accepts SYSTEM or ANONYMOUS principals from a token", async () => {
    const system = create(PrincipalSchema, { actor: { kind: PrincipalKind.SYSTEM } });
    expect(() => principalClaims(system)).toThrow(/cannot be put in a token/);
    const forged = await craft({
      claims: { sub: "system", ost: { actor: { kind: "PRINCIPAL_KIND_SYSTEM" } } },
    });
    await rejects(forged, /not allowed in tokens/);
  });

  it("keeps API-key principals' kind and scopes", async () => {
    const key = create(PrincipalSchema, {
      actor: { kind: PrincipalKind.API_KEY, id: 4, apiKeyKind: ApiKeyKind.OSTICKET },
      scopes: ["tickets:create"],
    });
    const verified = await issuer.verifier.verify(await issuer.sign(key, { jti: "k" }));
    expect(verified.principal.actor?.apiKeyKind).toBe(ApiKeyKind.OSTICKET);
    expect(verified.principal.scopes).toEqual(["tickets:create"]);
  });

  it("returns a key binding (okb) as it was signed, also from memory, and rejects a malformed one", async () => {
    const key = create(PrincipalSchema, {
      actor: { kind: PrincipalKind.API_KEY, id: 4, apiKeyKind: ApiKeyKind.OSTICKET },
      scopes: ["tickets:create"],
    });
    const keyBinding = { ip: "192.0.2.7", key: "ab".repeat(32) };
    const token = await issuer.sign(key, { jti: "kb", keyBinding });
    expect((await issuer.verifier.verify(token)).keyBinding).toEqual(keyBinding);
    expect((await issuer.verifier.verify(token)).keyBinding).toEqual(keyBinding);
    expect((await issuer.verifier.verify(await issuer.sign(key, { jti: "kn" }))).keyBinding).toBeUndefined();
    await rejects(await craft({ claims: { okb: "192.0.2.7" } }), /okb is not an object/);
    await rejects(await craft({ claims: { okb: { ip: "192.0.2.7", key: "secret" } } }), /SHA-256/);
    await rejects(await craft({ claims: { okb: { key: "ab".repeat(32) } } }), /SHA-256/);
  });
});

describe("remembered tokens", () => {
  /** A verifier over a key set the test can change, counting how often a signature is really checked. */
  async function world(now: () => Date = () => new Date()) {
    const pair = await generateKeyPair("ES256", { extractable: true });
    const published: { keys: JWK[] } = {
      keys: [{ ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" }],
    };
    let lookups = 0;
    const jwks = new CachedJwks(async () => ({ keys: [...published.keys] }), { cooldownMs: 0 });
    const verifier = new AccessTokenVerifier({
      issuer: "https://id.example",
      audience: "ostmesh",
      now,
      keys: async (header, token) => {
        lookups++;
        return jwks.getKey(header, token);
      },
    });
    const sign = (expSec: number) => {
      const c = principalClaims(agent);
      return new SignJWT({ ost: c.ost })
        .setProtectedHeader({ alg: "ES256", kid: "k1", typ: ACCESS_TOKEN_TYPE })
        .setIssuer("https://id.example")
        .setAudience("ostmesh")
        .setSubject(c.sub)
        .setIssuedAt(expSec - 300)
        .setNotBefore(expSec - 300)
        .setExpirationTime(expSec)
        .setJti("r1")
        .sign(pair.privateKey);
    };
    return { verifier, published, jwks, sign, lookups: () => lookups };
  }

  it("answers a token seen before from memory, each caller with its own copy of the principal", async () => {
    const w = await world();
    const token = await w.sign(Math.floor(Date.now() / 1000) + 300);
    const first = await w.verifier.verify(token);
    first.principal.scopes.push("narrowed-by-a-caller");
    first.principal.credentialId = "changed";
    const second = await w.verifier.verify(token);
    expect(second.principal.actor?.id).toBe(7);
    expect(second.principal.scopes).toEqual([]);
    expect(second.principal.credentialId).toBe("r1");
    expect(second.payload.jti).toBe("r1");
    // A forged variant of the same token (one byte of the signature changed) is not the same bytes.
    const forged = `${token.slice(0, -2)}${token.endsWith("AA") ? "AB" : "AA"}`;
    await expect(w.verifier.verify(forged)).rejects.toBeInstanceOf(CredentialError);
  });

  it("stops answering from memory when the token expires", async () => {
    let clock = Date.now();
    const w = await world(() => new Date(clock));
    const exp = Math.floor(clock / 1000) + 60;
    const token = await w.sign(exp);
    await w.verifier.verify(token);
    await w.verifier.verify(token);
    clock = exp * 1000 + 31_000; // past exp and the 30 s tolerance
    await expect(w.verifier.verify(token)).rejects.toThrow(/exp/);
  });

  it("ends remembered tokens whose key was withdrawn from the key set", async () => {
    const w = await world();
    const token = await w.sign(Math.floor(Date.now() / 1000) + 300);
    await w.verifier.verify(token);
    const before = w.lookups();
    await w.verifier.verify(token);
    expect(w.lookups()).toBe(before + 1); // the key is looked up on every use
    w.published.keys = [];
    w.jwks.invalidate();
    await expect(w.verifier.verify(token)).rejects.toBeInstanceOf(CredentialError);
  });

  it("keeps at most cacheSize tokens", async () => {
    const w = await world();
    const small = new AccessTokenVerifier({
      issuer: "https://id.example",
      audience: "ostmesh",
      keys: w.jwks.getKey,
      cacheSize: 2,
    });
    const base = Math.floor(Date.now() / 1000) + 300;
    const tokens = await Promise.all([w.sign(base), w.sign(base + 1), w.sign(base + 2)]);
    for (const t of tokens) await small.verify(t);
    for (const t of tokens) expect((await small.verify(t)).principal.actor?.id).toBe(7);
  });
});

describe("cached JWKS", () => {
  it("refetches on an unknown kid (key rotation) but at most once per cooldown", async () => {
    const keys: { keys: JWK[] } = { keys: [] };
    const add = async (id: string) => {
      const pair = await generateKeyPair("ES256", { extractable: true });
      keys.keys.push({ ...(await exportJWK(pair.publicKey)), kid: id, alg: "ES256", use: "sig" });
      return pair.privateKey;
    };
    const first = await add("k1");
    let now = 1_000_000;
    const jwks = new CachedJwks(async () => ({ keys: [...keys.keys] }), {
      cooldownMs: 30_000,
      now: () => now,
    });
    const verifier = new AccessTokenVerifier({ issuer: "i", audience: "a", keys: jwks.getKey });
    const sign = (key: CryptoKey, id: string) => {
      const c = principalClaims(agent);
      return new SignJWT({ ost: c.ost })
        .setProtectedHeader({ alg: "ES256", kid: id, typ: ACCESS_TOKEN_TYPE })
        .setIssuer("i")
        .setAudience("a")
        .setSubject(c.sub)
        .setIssuedAt()
        .setExpirationTime("5m")
        .setJti(id)
        .sign(key);
    };
    await verifier.verify(await sign(first, "k1"));
    expect(jwks.fetches).toBe(1);
    const second = await add("k2");
    // Within the cooldown an unknown kid does not trigger a fetch (forged kids cannot flood the issuer).
    await expect(verifier.verify(await sign(second, "k2"))).rejects.toThrow(CredentialError);
    expect(jwks.fetches).toBe(1);
    now += 31_000;
    await verifier.verify(await sign(second, "k2"));
    expect(jwks.fetches).toBe(2);
    // Known kids never refetch before maxAge.
    await verifier.verify(await sign(first, "k1"));
    expect(jwks.fetches).toBe(2);
  });

  it("keeps the keys it has when a refetch fails", async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "only", alg: "ES256", use: "sig" };
    let fail = false;
    let now = 0;
    const jwks = new CachedJwks(
      async () => {
        if (fail) throw new Error("identity is down");
        return { keys: [jwk] };
      },
      { maxAgeMs: 1000, now: () => now },
    );
    const verifier = new AccessTokenVerifier({ issuer: "i", audience: "a", keys: jwks.getKey });
    const c = principalClaims(agent);
    const token = await new SignJWT({ ost: c.ost })
      .setProtectedHeader({ alg: "ES256", kid: "only", typ: ACCESS_TOKEN_TYPE })
      .setIssuer("i")
      .setAudience("a")
      .setSubject(c.sub)
      .setIssuedAt()
      .setExpirationTime("5m")
      .setJti("t")
      .sign(pair.privateKey);
    await verifier.verify(token);
    fail = true;
    now = 5000;
    await expect(verifier.verify(token)).resolves.toMatchObject({ sessionId: undefined });
    expect(jwks.fetches).toBe(2);
  });

  it("fails when the very first fetch fails", async () => {
    const jwks = new CachedJwks(async () => {
      throw new Error("down");
    });
    const verifier = new AccessTokenVerifier({ issuer: "i", audience: "a", keys: jwks.getKey });
    const issuer = await createTestIssuer({ issuer: "i", audience: "a" });
    await expect(verifier.verify(await issuer.sign(agent))).rejects.toThrow(CredentialError);
  });
});
