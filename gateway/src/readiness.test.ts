import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { mysqlCheck, type ServiceName, type ServiceProcess, startServiceProcess } from "@ostmesh/kit";
import { captureLogs, testConfig } from "@ostmesh/kit/testing/harness.ts";
import {
  Health,
  HealthCheckResponse_ServingStatus as Status,
} from "@ostmesh/proto/gen/grpc/health/v1/health_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway } from "./server.ts";

async function readyz(port: number) {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  const body: { status: string; failing: { check: string; error: string }[] } = await res.json();
  return { status: res.status, body };
}

describe("gateway readiness", () => {
  let db: ScratchDatabase;
  let ticket: ServiceProcess;
  let ticketWithoutDb: ServiceProcess;

  beforeAll(async () => {
    db = await createScratchDatabase({ from: "empty", label: "gwready" });
    const start = (databaseUrl: string) =>
      startServiceProcess({
        name: "ticket",
        config: testConfig({ DATABASE_URL: databaseUrl }),
        logger: captureLogs().logger,
        services: [{ name: "ticket", register: () => undefined }],
        checks: [mysqlCheck(databaseUrl, { timeoutMs: 500 })],
        listen: { h2c: [0], admin: 0 },
        handleSignals: false,
      });
    ticket = await start(db.url);
    ticketWithoutDb = await start("mysql://root@127.0.0.1:1/osticket");
  });

  afterAll(async () => {
    await ticket?.shutdown();
    await ticketWithoutDb?.shutdown();
    await db?.drop();
  });

  const gateway = (env: Record<string, string>, fronted: ServiceName[]) =>
    startGateway({
      config: testConfig(env),
      logger: captureLogs("gateway").logger,
      fronted,
      listen: { http: 0, h2c: 0, admin: 0 },
      handleSignals: false,
    });

  it("is ready when every fronted service answers SERVING over the network", async () => {
    const gw = await gateway({ TICKET_URL: `http://127.0.0.1:${ticket.ports.h2c[0]}` }, ["ticket"]);
    try {
      const res = await readyz(gw.ports.admin);
      expect(res.status).toBe(200);
      expect(res.body.failing).toEqual([]);
      const health = createClient(
        Health,
        createGrpcTransport({ baseUrl: `http://127.0.0.1:${gw.ports.h2c[0]}` }),
      );
      expect((await health.check({ service: "" })).status).toBe(Status.SERVING);
      // Requests no route serves get a 404 on the public HTTP/1.1 port.
      const missing = await fetch(`http://127.0.0.1:${gw.ports.http1[0]}/no/such/route`);
      expect(missing.status).toBe(404);
    } finally {
      await gw.shutdown();
    }
  });

  it("stays ready while only attachment or notification is unreachable, and names them", async () => {
    const gw = await gateway(
      {
        TICKET_URL: `http://127.0.0.1:${ticket.ports.h2c[0]}`,
        NOTIFICATION_URL: "http://127.0.0.1:1",
      },
      ["ticket", "notification"],
    );
    try {
      const res = await readyz(gw.ports.admin);
      expect(res.status).toBe(200);
      expect(res.body.failing).toEqual([
        { check: "notification", error: expect.stringContaining("ECONNREFUSED") },
      ]);
    } finally {
      await gw.shutdown();
    }
  });

  it("names the services that are unreachable or NOT_SERVING", async () => {
    const gw = await gateway(
      {
        TICKET_URL: `http://127.0.0.1:${ticketWithoutDb.ports.h2c[0]}`,
        IDENTITY_URL: "http://127.0.0.1:1",
      },
      ["ticket", "identity"],
    );
    try {
      const res = await readyz(gw.ports.admin);
      expect(res.status).toBe(503);
      expect(res.body.failing).toEqual([
        { check: "ticket", error: "ticket is NOT_SERVING" },
        { check: "identity", error: expect.stringContaining("ECONNREFUSED") },
      ]);
      const health = createClient(
        Health,
        createGrpcTransport({ baseUrl: `http://127.0.0.1:${gw.ports.h2c[0]}` }),
      );
      expect((await health.check({ service: "" })).status).toBe(Status.NOT_SERVING);
    } finally {
      await gw.shutdown();
    }
  });
});
