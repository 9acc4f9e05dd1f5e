/**
 * The gateway in front of the REAL identity service (its own process bootstrap, ORM, migrations, key store
 * and the kit auth interceptor) on a scratch copy of the fresh osTicket install: osTicket's API-key rules
 * on the legacy routes, the gateway's own service token, logins through the edge, and ostmesh tokens
 * verified at the edge with the identity service's JWKS. The ticket service is still the stand-in here.
 */
import { randomBytes } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { type ServiceProcess, startServiceProcess, Topology } from "@ostmesh/kit";
import { CachedJwks, jwksFromIdentity, type MeshAuth, parseJwks } from "@ostmesh/kit/auth/index.ts";
import { testMeshAuth } from "@ostmesh/kit/auth/testing/mesh.ts";
import { captureLogs, testConfig } from "@ostmesh/kit/testing/harness.ts";
import { IdentityService } from "@ostmesh/proto";
import { ApiKeyKind, PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { TicketService } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import { createRemoteJWKSet, generateKeyPair, jwtVerify, SignJWT } from "jose";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "./testing/gateway.ts";

const KEY = "9A8B7C6D5E4F30211203F4E5D6C7B8A9";
const secret = randomBytes(32).toString("base64url");

let db: ScratchDatabase;
let conn: mysql.Connection;
let identity: ServiceProcess;
let auth: MeshAuth;
let gw: TestGateway;

beforeAll(async () => {
  db = await createScratchDatabase({ label: "gwrealid" });
  conn = await mysql.createConnection({ uri: db.url });
  await conn.query(
    "INSERT INTO ost_api_key SET isactive = 1, ipaddr = '127.0.0.1', apikey = ?, can_create_tickets = 1, can_exec_cron = 0, notes = 'gw', updated = NOW(), created = NOW()",
    [KEY],
  );
  // The identity service reads its settings from the environment at registration.
  process.env.IDENTITY_SERVICE_CLIENTS = `gateway=${secret}`;
  process.env.IDENTITY_KEY_ENCRYPTION_KEY = randomBytes(32).toString("base64");
  const { name, register } = await import("@ostmesh/identity");
  const config = testConfig({ DATABASE_URL: db.url, LOG_LEVEL: "silent" });
  const topology = new Topology(config, ["identity"]);
  auth = testMeshAuth(topology, db.url);
  identity = await startServiceProcess({
    name: "identity-for-gateway",
    config,
    logger: captureLogs("identity", "silent").logger,
    topology,
    services: [{ name, register }],
    interceptors: [auth.interceptor],
    onShutdown: [() => auth.close()],
    listen: { h2c: [0], admin: 0 },
    handleSignals: false,
  });
  const identityUrl = `http://127.0.0.1:${identity.ports.h2c[0]}`;
  const realKeys = new CachedJwks(
    jwksFromIdentity(
      createClient(IdentityService, createConnectTransport({ baseUrl: identityUrl, httpVersion: "2" })),
    ),
  ).getKey;
  gw = await startTestGateway(
    db.url,
    { IDENTITY_URL: identityUrl, GATEWAY_SERVICE_SECRET: secret },
    { verifyKeys: realKeys },
  );
});

afterAll(async () => {
  await gw?.close();
  await identity?.shutdown();
  await conn?.end();
  await db?.drop();
});

async function legacy(path: string, key: string | undefined, body?: string) {
  const res = await fetch(`${gw.httpUrl}${path}`, {
    method: "POST",
    headers: key ? { "x-api-key": key } : {},
    body,
  });
  return { status: res.status, body: await res.text() };
}

const ticket = JSON.stringify({ email: "jane@example.com", name: "Jane", subject: "S", message: "M" });

describe("legacy API keys checked by the real identity service", () => {
  it("a valid osTicket key creates (the service token and the key's token both work)", async () => {
    const res = await legacy("/api/tickets.json", KEY, ticket);
    expect(res.status).toBe(201);
    expect(res.body).toMatch(/^\d+$/);
    const req = gw.upstreams.created.at(-1);
    expect(req?.requester?.email).toBe("jane@example.com");
  });

  it("the key is matched case-insensitively, and bound to the client IP", async () => {
    expect((await legacy("/api/tickets.json", KEY.toLowerCase(), ticket)).status).toBe(201);
    await conn.query("UPDATE ost_api_key SET ipaddr = '10.9.9.9' WHERE apikey = ?", [KEY]);
    try {
      expect(await legacy("/api/tickets.json", KEY, ticket)).toEqual({
        status: 401,
        body: "Valid API key required",
      });
    } finally {
      await conn.query("UPDATE ost_api_key SET ipaddr = '127.0.0.1' WHERE apikey = ?", [KEY]);
    }
  });

  it("inactive, unknown, and without permission give osTicket's three texts", async () => {
    expect(await legacy("/api/tickets.json", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", ticket)).toEqual({
      status: 401,
      body: "Valid API key required",
    });
    expect(await legacy("/api/tasks/cron", KEY)).toEqual({ status: 401, body: "API key not authorized" });
    await conn.query("UPDATE ost_api_key SET isactive = 0 WHERE apikey = ?", [KEY]);
    try {
      expect(await legacy("/api/tickets.json", KEY, ticket)).toEqual({
        status: 401,
        body: "API key not found/active or source IP not authorized",
      });
    } finally {
      await conn.query("UPDATE ost_api_key SET isactive = 1 WHERE apikey = ?", [KEY]);
    }
  });

  it("failures are written to ost_syslog through the gateway's service token, key masked", async () => {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      "SELECT title, log FROM ost_syslog WHERE title = 'API Error (401)' ORDER BY log_id DESC LIMIT 1",
    );
    expect(rows[0]?.log).toBe(
      `API key not found/active or source IP not authorized [${KEY.slice(0, 4)}********${KEY.slice(-4)}] `,
    );
  });
});

describe("ostmesh tokens from the real identity service", () => {
  it("logs in through the edge and uses the token on a forwarded call, verified at the edge", async () => {
    const transport = createConnectTransport({ baseUrl: gw.httpUrl, httpVersion: "1.1" });
    const login = await createClient(IdentityService, transport).login({
      kind: PrincipalKind.AGENT,
      username: "ostadmin",
      password: "Adm1nPass!",
    });
    const token = login.tokens?.accessToken ?? "";
    expect(token).not.toBe("");
    const tickets = createClient(TicketService, transport);
    const res = await tickets.getTicket(
      { lookup: { case: "ticketId", value: 3 } },
      { headers: { authorization: `Bearer ${token}` } },
    );
    expect(res.ticket?.id).toBe(3);
    expect(gw.upstreams.lastGetTicket?.authorization).toBe(`Bearer ${token}`);
    const who = await createClient(IdentityService, transport).whoAmI(
      {},
      { headers: { authorization: `Bearer ${token}` } },
    );
    expect(who.principal?.actor?.username).toBe("ostadmin");
    await expect(tickets.getTicket({ lookup: { case: "ticketId", value: 3 } })).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });
  });
});

describe("ostmesh API keys at the Connect edge, checked by the real identity service", () => {
  /** Calls of `method` the identity service has answered, from its /metrics. */
  async function served(method: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${identity.ports.admin}/metrics`)).text();
    return text
      .split("\n")
      .filter((l) => l.startsWith("rpc_server_requests_total{") && l.includes(`method="${method}"`))
      .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
  }
  const keyChecks = () => served("CheckApiKey");

  it("reuses the key's bound token for later calls; a change to the key applies to the very next call", async () => {
    const transport = createConnectTransport({ baseUrl: gw.httpUrl, httpVersion: "1.1" });
    const client = createClient(IdentityService, transport);
    const login = await client.login({
      kind: PrincipalKind.AGENT,
      username: "ostadmin",
      password: "Adm1nPass!",
    });
    const created = await client.createApiKey(
      { description: "edge reuse", scopes: ["tickets:read"] },
      { headers: { authorization: `Bearer ${login.tokens?.accessToken}` } },
    );
    const id = created.apiKey?.id;
    const headers = { "x-api-key": created.secret };
    const who = async () => {
      try {
        return (await client.whoAmI({}, { headers })).principal?.actor?.apiKeyKind === ApiKeyKind.OSTMESH
          ? "ok"
          : "someone else";
      } catch (error) {
        const e = ConnectError.from(error);
        return `${Code[e.code]}: ${e.rawMessage}`;
      }
    };
    const refused = "Unauthenticated: invalid or expired credentials";
    const set = (sql: string, params: unknown[] = []) =>
      conn.query(`UPDATE ostmesh_api_key SET ${sql} WHERE id = ?`, [...params, id]);

    const before = await keyChecks();
    expect([await who(), await who(), await who()]).toEqual(["ok", "ok", "ok"]);
    expect((await keyChecks()) - before).toBe(1);
    // Revoked, then restored; then no longer allowed from this address, then allowed again.
    await set("revoked_at = UTC_TIMESTAMP(6)");
    expect(await who()).toBe(refused);
    await set("revoked_at = NULL");
    expect(await who()).toBe("ok");
    await set("allowed_ips = ?", [JSON.stringify(["10.0.0.0/8"])]);
    expect(await who()).toBe(refused);
    await set("allowed_ips = ?", [JSON.stringify(["127.0.0.0/8"])]);
    expect(await who()).toBe("ok");
    // A scope granted after its token was kept counts at once (the edge asks the key's check again).
    const list = () => client.listApiKeys({}, { headers });
    await expect(list()).rejects.toMatchObject({ code: Code.PermissionDenied });
    await set("scopes = ?", [JSON.stringify(["tickets:read", "apikeys:manage"])]);
    expect((await list()).apiKeys.length).toBeGreaterThan(0);
    // Every refusal and every restore cost one check; the calls in between none.
    const calls = (await keyChecks()) - before;
    expect(await who()).toBe("ok");
    expect((await keyChecks()) - before).toBe(calls);
    // A procedure open to anonymous callers refuses for reasons of its own: once the key has passed its
    // check again, that answer stands (the call is not sent twice).
    const logins = await served("Login");
    await expect(
      client.login({ kind: PrincipalKind.AGENT, username: "ostadmin", password: "wrong" }, { headers }),
    ).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect((await served("Login")) - logins).toBe(1);
  });
});

describe("/.well-known/jwks.json on the gateway's public port", () => {
  it("serves identity's keys: a Login token verifies with jose's createRemoteJWKSet pointed at the gateway", async () => {
    const login = await createClient(
      IdentityService,
      createConnectTransport({ baseUrl: gw.httpUrl, httpVersion: "1.1" }),
    ).login({ kind: PrincipalKind.AGENT, username: "ostadmin", password: "Adm1nPass!" });
    const token = login.tokens?.accessToken ?? "";
    const remote = createRemoteJWKSet(new URL(`${gw.httpUrl}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(token, remote, {
      issuer: "urn:ostmesh:identity",
      audience: "urn:ostmesh:api",
      typ: "at+jwt",
    });
    expect(payload.sub).toBe("agent:1");
    expect(protectedHeader.alg).toBe("ES256");

    // A token of the same shape signed with a key identity never published is refused by the same set.
    const { privateKey } = await generateKeyPair("ES256");
    const forged = await new SignJWT({ sub: "agent:1" })
      .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: protectedHeader.kid ?? "" })
      .setIssuer("urn:ostmesh:identity")
      .setAudience("urn:ostmesh:api")
      .setExpirationTime("5m")
      .sign(privateKey);
    await expect(jwtVerify(forged, remote)).rejects.toThrow(/signature verification failed/);
  });

  it("answers with application/jwk-set+json, a short Cache-Control, public keys only; HEAD; 405 otherwise", async () => {
    const url = `${gw.httpUrl}/.well-known/jwks.json`;
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/jwk-set+json");
    expect(res.headers.get("cache-control")).toBe("public, max-age=30");
    const body: unknown = await res.json();
    const jwks = parseJwks(body);
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
      expect(key.kid).toBeTruthy();
    }
    expect(JSON.stringify(body)).not.toContain('"d"');
    const head = await fetch(url, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toBe("application/jwk-set+json");
    expect(await head.text()).toBe("");
    const post = await fetch(url, { method: "POST", body: "{}" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
  });
});
