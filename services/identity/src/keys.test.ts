import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { ConfigError } from "@ostmesh/kit";
import { AccessTokenVerifier, CachedJwks, jwksFromUrl } from "@ostmesh/kit/auth/index.ts";
import { PrincipalKind, PrincipalSchema } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadIdentityConfig, parseServiceClients } from "./config.ts";
import { SecretBox } from "./crypto.ts";
import { SigningKeys } from "./keys.ts";
import { type IdentityHarness, identityHarness } from "./testing.ts";
import { TokenIssuer } from "./tokens.ts";

const service = create(PrincipalSchema, {
  actor: { kind: PrincipalKind.SERVICE, username: "notification", displayName: "notification" },
  scopes: ["tickets:read"],
});

describe("signing keys", () => {
  let h: IdentityHarness;

  beforeAll(async () => {
    h = await identityHarness("idkeys2", { IDENTITY_SIGNING_ALG: "EdDSA" });
  });
  afterAll(async () => {
    await h?.close();
  });

  const keys = (box: SecretBox, algorithm: "ES256" | "EdDSA" = "EdDSA") =>
    new SigningKeys({ algorithm, rotationMs: 3_600_000, maxTokenTtlMs: 600_000, box, cacheMs: 0 });

  it("stores private keys encrypted with the key-encryption key, bound to their kid", async () => {
    const current = await h.identity.keys.signingKey(h.orm.em.fork());
    expect(current.alg).toBe("EdDSA");
    const [row] = await h.q("SELECT public_jwk, private_key FROM ostmesh_signing_key WHERE kid = ?", [
      current.kid,
    ]);
    const sealed = String(row?.private_key);
    expect(sealed).toMatch(/^v1\./);
    expect(sealed).not.toMatch(/PRIVATE KEY/);
    expect(h.identity.box.open(sealed, current.kid).toString("utf8")).toMatch(/BEGIN PRIVATE KEY/);
    expect(() => h.identity.box.open(sealed, "another-kid")).toThrow();
    expect(() => new SecretBox(randomBytes(32)).open(sealed, current.kid)).toThrow();
    expect(JSON.parse(String(row?.public_jwk))).toMatchObject({
      kty: "OKP",
      crv: "Ed25519",
      alg: "EdDSA",
      kid: current.kid,
    });
  });

  it("starts a new key when the stored ones cannot be opened (another KEK), keeping the old one published", async () => {
    const em = h.orm.em.fork();
    const before = await h.identity.keys.signingKey(em);
    const stranger = keys(new SecretBox(randomBytes(32)));
    const next = await stranger.signingKey(em);
    expect(next.kid).not.toBe(before.kid);
    const kids = (await stranger.publicKeys(em)).map((k) => k.kid);
    expect(kids).toContain(before.kid);
    expect(kids).toContain(next.kid);
    const [old] = await h.q(
      "SELECT retired_at IS NOT NULL AS retired FROM ostmesh_signing_key WHERE kid = ?",
      [before.kid],
    );
    expect(Number(old?.retired)).toBe(1);
  });

  it("rotates when the newest key is older than the rotation period and signs with it once active", async () => {
    const em = h.orm.em.fork();
    const box = h.identity.box;
    const ks = new SigningKeys({
      algorithm: "EdDSA",
      rotationMs: 60_000,
      activationDelayMs: 0,
      maxTokenTtlMs: 600_000,
      box,
      cacheMs: 0,
    });
    const first = await ks.signingKey(em);
    await h.orm.em
      .fork()
      .execute("UPDATE ostmesh_signing_key SET created_at = created_at - INTERVAL 2 MINUTE");
    const second = await ks.signingKey(em);
    expect(second.kid).not.toBe(first.kid);
    const issuer = new TokenIssuer({
      issuer: h.config.auth.issuer,
      audience: h.config.auth.audience,
      keys: ks,
    });
    const token = await issuer.accessToken(em, service, { ttlMs: 60_000 });
    expect(decodeProtectedHeader(token.token)).toMatchObject({ kid: second.kid, alg: "EdDSA" });
  });

  it("drops expired keys from the JWKS and deletes them on purge", async () => {
    const em = h.orm.em.fork();
    await em.execute(
      "UPDATE ostmesh_signing_key SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE retired_at IS NOT NULL",
    );
    const published = (await h.identity.keys.publicKeys(em)).map((k) => k.kid);
    const retired = await h.q("SELECT kid FROM ostmesh_signing_key WHERE retired_at IS NOT NULL");
    expect(retired.length).toBeGreaterThan(0);
    for (const r of retired) expect(published).not.toContain(r.kid);
    const purged = await h.identity.purge();
    expect(purged.keys).toBe(retired.length);
    expect(await h.q("SELECT kid FROM ostmesh_signing_key WHERE retired_at IS NOT NULL")).toEqual([]);
  });

  it("serves /.well-known/jwks.json that other processes verify tokens with", async () => {
    const server = http.createServer(h.identity.jwksHandler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
      const res = await fetch(url);
      expect(res.headers.get("content-type")).toBe("application/jwk-set+json");
      expect(res.headers.get("cache-control")).toBe("public, max-age=60");
      const doc = await res.json();
      expect(JSON.stringify(doc)).not.toMatch(/"d":/);
      expect((await fetch(url, { method: "POST" })).status).toBe(405);
      const verifier = new AccessTokenVerifier({
        issuer: h.config.auth.issuer,
        audience: h.config.auth.audience,
        keys: new CachedJwks(jwksFromUrl(url)).getKey,
      });
      // A replica without a cached key (the previous test expired and purged keys behind the cache's back).
      const issuer = new TokenIssuer({
        issuer: h.config.auth.issuer,
        audience: h.config.auth.audience,
        keys: keys(h.identity.box),
      });
      const token = await issuer.accessToken(h.orm.em.fork(), service, { ttlMs: 60_000 });
      const verified = await verifier.verify(token.token);
      expect(verified.principal.actor?.username).toBe("notification");
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("identity configuration", () => {
  it("requires a 32-byte key-encryption key in production and rejects malformed ones", () => {
    expect(() => loadIdentityConfig({ NODE_ENV: "production" })).toThrow(/IDENTITY_KEY_ENCRYPTION_KEY/);
    expect(() => loadIdentityConfig({ IDENTITY_KEY_ENCRYPTION_KEY: "c2hvcnQ=" })).toThrow(ConfigError);
    const kek = randomBytes(32);
    expect(
      loadIdentityConfig({ NODE_ENV: "production", IDENTITY_KEY_ENCRYPTION_KEY: kek.toString("base64url") })
        .keyEncryptionKey,
    ).toEqual(kek);
    expect(loadIdentityConfig({}).keyEncryptionKey).toBeUndefined();
    expect(new SecretBox(undefined).persistent).toBe(false);
  });

  it("reads durations, the algorithm and the service clients", () => {
    const secret = "s".repeat(32);
    const config = loadIdentityConfig({
      IDENTITY_ACCESS_TOKEN_TTL: "5m",
      IDENTITY_SIGNING_ALG: "EdDSA",
      IDENTITY_SERVICE_CLIENTS: `gateway=${secret}, notification=${secret}x`,
    });
    expect(config.accessTokenTtlMs).toBe(300_000);
    expect(config.signingAlgorithm).toBe("EdDSA");
    expect(config.serviceClients.map((c) => [c.name, c.scopes.includes("auth:check")])).toEqual([
      ["gateway", true],
      ["notification", false],
    ]);
    expect(() => loadIdentityConfig({ IDENTITY_SIGNING_ALG: "HS256" })).toThrow(/IDENTITY_SIGNING_ALG/);
    expect(() => loadIdentityConfig({ IDENTITY_SERVICE_CLIENTS: "gateway=short" })).toThrow(
      /IDENTITY_SERVICE_CLIENTS/,
    );
    expect(parseServiceClients(`a=${secret},a=${secret}`)).toBeUndefined();
    expect(parseServiceClients(`=${secret}`)).toBeUndefined();
  });
});
