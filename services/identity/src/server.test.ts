import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { loadMeshConfig, type ServiceProcess, startServiceProcess, Topology } from "@ostmesh/kit";
import type { MeshAuth } from "@ostmesh/kit/auth/index.ts";
import { testMeshAuth } from "@ostmesh/kit/auth/testing/mesh.ts";
import { IdentityService } from "@ostmesh/proto";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { name, register } from "./index.ts";
import { ADMIN } from "./testing.ts";

/**
 * The identity service as it runs: kit's process bootstrap on free ports, the service registered through
 * its `register` export (own ORM, migrations under an advisory lock), the auth interceptor of testMeshAuth
 * with the JWKS fetched from the service itself through the in-process topology, and real clients over h2c
 * (Connect and gRPC).
 */
describe("identity service process", () => {
  let db: ScratchDatabase;
  let proc: ServiceProcess;
  let auth: MeshAuth;

  beforeAll(async () => {
    db = await createScratchDatabase({ label: "idserver" });
    const config = loadMeshConfig({
      DATABASE_URL: db.url,
      OSTMESH_BIND_HOST: "127.0.0.1",
      LOG_LEVEL: "silent",
    });
    const topology = new Topology(config, ["identity"]);
    auth = testMeshAuth(topology, db.url);
    proc = await startServiceProcess({
      name: "identity-test",
      config,
      logger: pino({ enabled: false }),
      topology,
      services: [{ name, register }],
      interceptors: [auth.interceptor],
      onShutdown: [() => auth.close()],
      listen: { h2c: [0], admin: 0 },
      handleSignals: false,
    });
  });
  afterAll(async () => {
    await proc?.shutdown("test done");
    await db?.drop();
  });

  it("logs in over h2c and verifies the token it issued on the next call", async () => {
    const baseUrl = `http://127.0.0.1:${proc.ports.h2c[0]}`;
    const client = createClient(IdentityService, createConnectTransport({ baseUrl, httpVersion: "2" }));
    const login = await client.login({ kind: PrincipalKind.AGENT, ...ADMIN });
    const who = await client.whoAmI(
      {},
      { headers: { authorization: `Bearer ${login.tokens?.accessToken}` } },
    );
    expect(who.principal?.actor?.username).toBe("ostadmin");
    const grpc = createClient(IdentityService, createGrpcTransport({ baseUrl }));
    const jwks = await grpc.getJwks({});
    expect(jwks.keys.length).toBeGreaterThan(0);
    await expect(grpc.whoAmI({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    const error = await grpc
      .login({ kind: PrincipalKind.AGENT, username: "ostadmin", password: "wrong" })
      .catch((e: unknown) => ConnectError.from(e));
    expect(error).toMatchObject({ code: Code.Unauthenticated, rawMessage: "invalid username or password" });
  });

  it("created the identity tables through its own migrations", async () => {
    const res = await fetch(`http://127.0.0.1:${proc.ports.admin}/healthz`);
    expect(res.status).toBe(200);
    const { default: mysql } = await import("mysql2/promise");
    const conn = await mysql.createConnection({ uri: db.url });
    try {
      const [rows] = await conn.query<import("mysql2/promise").RowDataPacket[]>(
        "SELECT name FROM ostmesh_migrations WHERE name LIKE '%identity%'",
      );
      expect(rows.map((r) => r.name)).toEqual(["Migration20250301000000_identity"]);
    } finally {
      await conn.end();
    }
  });
});
