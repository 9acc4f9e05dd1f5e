import http from "node:http";
import type { AddressInfo } from "node:net";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { createOrm, execute, type Orm, query, runMigrations } from "@ostmesh/db";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { TicketService } from "@ostmesh/proto";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../config/env.ts";
import { loadAuthConfig } from "./config.ts";
import { oidcAccountResolver } from "./directory.ts";
import { CachedJwks, jwksFromUrl } from "./jwks.ts";
import { createMeshAuth } from "./mesh.ts";
import { principalOf } from "./principal.ts";
import type { SqlQuery } from "./sql.ts";
import { createTestIssuer } from "./testing/issuer.ts";
import { CredentialError, OidcVerifier } from "./verify.ts";

/**
 * OIDC resource-server mode against a real issuer built here: an RSA key pair, its JWKS served over HTTP on
 * a free port, tokens signed with the private key. Verification goes over the network to that JWKS.
 */
describe("OIDC resource-server mode", () => {
  let db: ScratchDatabase;
  let orm: Orm;
  let q: SqlQuery;
  let server: http.Server;
  let jwksUrl: string;
  let jwksHits = 0;
  let privateKey: CryptoKey;
  const published: { keys: JWK[] } = { keys: [] };
  const ISSUER = "https://idp.example.test/realms/helpdesk";
  const AUDIENCE = "ostmesh-api";
  let endUserEmail: string;
  let endUserId: number;

  beforeAll(async () => {
    db = await createScratchDatabase({ label: "oidc" });
    orm = await createOrm({ url: db.url });
    await runMigrations(orm);
    q = (sql, params = []) => query(orm.em.fork(), sql, params);
    const em = orm.em.fork();
    endUserEmail = `Oidc.User.${Date.now()}@Example.net`;
    const { insertId: emailId } = await execute(
      em,
      "INSERT INTO ost_user_email SET user_id = 0, address = ?",
      [endUserEmail],
    );
    ({ insertId: endUserId } = await execute(
      em,
      "INSERT INTO ost_user SET org_id = 0, default_email_id = ?, name = 'Oidc User', created = NOW(), updated = NOW()",
      [emailId],
    ));
    await em.execute("UPDATE ost_user_email SET user_id = ? WHERE id = ?", [endUserId, emailId]);

    const pair = await generateKeyPair("RS256", { extractable: true });
    privateKey = pair.privateKey;
    published.keys.push({ ...(await exportJWK(pair.publicKey)), kid: "idp-1", alg: "RS256", use: "sig" });
    server = http.createServer((req, res) => {
      if (req.url !== "/protocol/openid-connect/certs") {
        res.writeHead(404).end();
        return;
      }
      jwksHits++;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(published));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/protocol/openid-connect/certs`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await orm?.close();
    await db?.drop();
  });

  const token = (
    claims: Record<string, unknown>,
    o: { iss?: string; aud?: string; exp?: number; key?: CryptoKey | Uint8Array; alg?: string } = {},
  ) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: o.alg ?? "RS256", kid: "idp-1", typ: "JWT" })
      .setIssuer(o.iss ?? ISSUER)
      .setAudience(o.aud ?? AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(o.exp ?? now + 300)
      .setJti(`idp-${Math.random()}`)
      .sign(o.key ?? privateKey);
  };

  const verifier = (
    claim = "email",
    kinds: "agent" | "end_user" | "agent_then_end_user" = "agent_then_end_user",
  ) =>
    new OidcVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: new CachedJwks(jwksFromUrl(jwksUrl)).getKey,
      claim,
      resolve: oidcAccountResolver(q, kinds),
    });

  it("maps a verified e-mail claim to the agent or end user with that address", async () => {
    const v = verifier();
    const admin = await v.verify(
      await token({ sub: "abc", email: "ADMIN@example.org", email_verified: true }),
    );
    expect(admin.principal.actor?.kind).toBe(PrincipalKind.AGENT);
    expect(admin.principal.actor?.username).toBe("ostadmin");
    expect(admin.principal.agent?.isAdmin).toBe(true);
    expect(admin.principal.credentialId).toMatch(/^oidc:idp-/);
    const user = await v.verify(await token({ sub: "u1", email: endUserEmail.toLowerCase() }));
    expect(user.principal.actor?.kind).toBe(PrincipalKind.END_USER);
    expect(user.principal.actor?.id).toBe(endUserId);
    expect(jwksHits).toBeGreaterThanOrEqual(1);
  });

  it("maps another claim to usernames and honours the configured account kinds", async () => {
    const bySub = verifier("preferred_username", "agent");
    const admin = await bySub.verify(await token({ preferred_username: "ostadmin" }));
    expect(admin.principal.actor?.id).toBe(1);
    const usersOnly = verifier("email", "end_user");
    await expect(usersOnly.verify(await token({ email: "admin@example.org" }))).rejects.toThrow(
      /no active account/,
    );
    const agentsOnly = verifier("email", "agent");
    await expect(agentsOnly.verify(await token({ email: endUserEmail }))).rejects.toThrow(
      /no active account/,
    );
  });

  it("rejects wrong issuer, wrong audience, expiry, unverified e-mail, missing claim, unknown account", async () => {
    const v = verifier();
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, Promise<string>, RegExp][] = [
      ["issuer", token({ email: "admin@example.org" }, { iss: "https://other.example" }), /iss/],
      ["audience", token({ email: "admin@example.org" }, { aud: "someone-else" }), /aud/],
      ["expired", token({ email: "admin@example.org" }, { exp: now - 120 }), /EXPIRED/],
      ["unverified", token({ email: "admin@example.org", email_verified: false }), /not verified/],
      ["no claim", token({ sub: "x" }), /no email claim/],
      ["unknown", token({ email: "nobody@example.org" }), /no active account/],
    ];
    for (const [name, pending, reason] of cases) {
      const error = await v.verify(await pending).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, name).toBeInstanceOf(CredentialError);
      expect(String(error), name).toMatch(reason);
    }
  });

  it("rejects HS256 tokens made with the provider's public key, and tokens of another key", async () => {
    const v = verifier();
    const pem = await exportSPKI((await generateKeyPair("RS256", { extractable: true })).publicKey);
    const forged = await token(
      { email: "admin@example.org" },
      { alg: "HS256", key: new TextEncoder().encode(pem) },
    );
    await expect(v.verify(forged)).rejects.toThrow(/ALG_NOT_ALLOWED/);
    const stranger = await generateKeyPair("RS256");
    await expect(
      v.verify(await token({ email: "admin@example.org" }, { key: stranger.privateKey })),
    ).rejects.toThrow(/SIGNATURE_VERIFICATION_FAILED/);
    expect(
      () =>
        new OidcVerifier({
          issuer: ISSUER,
          audience: AUDIENCE,
          keys: async () => privateKey,
          algorithms: ["HS256"],
          resolve: async () => undefined,
        }),
    ).toThrow(/asymmetric/);
  });

  it("is wired from the environment by createMeshAuth, alongside ostmesh tokens", async () => {
    const ostmesh = await createTestIssuer();
    const config = loadAuthConfig({
      OIDC_ISSUER: ISSUER,
      OIDC_JWKS_URL: jwksUrl,
      OIDC_AUDIENCE: AUDIENCE,
    });
    expect(config.oidc?.claim).toBe("email");
    const auth = createMeshAuth({ config, jwks: async () => ({ keys: [...ostmesh.jwks.keys] }), db: q });
    let seen = "";
    const transport = createRouterTransport(
      (router) =>
        router.service(TicketService, {
          async createTicket(_req, ctx) {
            seen = `${principalOf(ctx).actor?.kind}:${principalOf(ctx).actor?.id}`;
            return {};
          },
        }),
      { router: { interceptors: [auth.interceptor] } },
    );
    const client = createClient(TicketService, transport);
    await client.createTicket(
      {},
      { headers: { authorization: `Bearer ${await token({ email: "admin@example.org" })}` } },
    );
    expect(seen).toBe(`${PrincipalKind.AGENT}:1`);
    // An end user through OIDC.
    await client.createTicket(
      {},
      { headers: { authorization: `Bearer ${await token({ email: endUserEmail })}` } },
    );
    expect(seen).toBe(`${PrincipalKind.END_USER}:${endUserId}`);
    await auth.close();
  });

  it("refuses an OIDC configuration without its JWKS URL or audience", () => {
    expect(() => loadAuthConfig({ OIDC_ISSUER: ISSUER })).toThrow(ConfigError);
    expect(() =>
      loadAuthConfig({ OIDC_ISSUER: ISSUER, OIDC_JWKS_URL: "ftp://x", OIDC_AUDIENCE: "a" }),
    ).toThrow(/OIDC_JWKS_URL/);
    expect(() =>
      loadAuthConfig({
        OIDC_ISSUER: ISSUER,
        OIDC_JWKS_URL: jwksUrl,
        OIDC_AUDIENCE: "a",
        OIDC_ACCOUNTS: "robots",
      }),
    ).toThrow(/OIDC_ACCOUNTS/);
    expect(loadAuthConfig({}).oidc).toBeUndefined();
  });
});
