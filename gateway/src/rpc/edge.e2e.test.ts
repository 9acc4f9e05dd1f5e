/**
 * The public Connect edge through a real gateway process: generated clients in all three protocols (Connect
 * and gRPC-Web over HTTP/1.1, gRPC and Connect over h2c; JSON and binary), headers, trailers and errors
 * both ways, edge authentication, access rules, deadlines, a server stream and its cancellation, a client
 * stream, CORS, rate limits, body limits, compression, and the OpenAPI document.
 */
import http from "node:http";
import { gunzipSync, gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { AttachmentService } from "@ostmesh/proto/gen/osticket/attachment/v1/attachment_service_pb.js";
import { ValidationErrorsSchema } from "@ostmesh/proto/gen/osticket/common/v1/errors_pb.js";
import { IdentityService } from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";
import { NotificationService } from "@ostmesh/proto/gen/osticket/notification/v1/notification_service_pb.js";
import {
  GetTicketRequestSchema,
  TicketService,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestGateway, type TestGateway } from "../testing/gateway.ts";
import { agentPrincipal, SCOPED_KEY } from "../testing/upstreams.ts";

let db: ScratchDatabase;
let gw: TestGateway;
let token: string;

beforeAll(async () => {
  db = await createScratchDatabase({ label: "gwedge" });
  gw = await startTestGateway(db.url, {
    GATEWAY_CORS_ORIGINS: "https://app.example.com",
    GATEWAY_CORS_MAX_AGE: "10m",
  });
  token = await gw.upstreams.token(agentPrincipal());
});

afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

const transports: [string, () => Transport][] = [
  ["Connect JSON over HTTP/1.1", () => createConnectTransport({ baseUrl: gw.httpUrl, httpVersion: "1.1" })],
  [
    "Connect binary over HTTP/1.1",
    () => createConnectTransport({ baseUrl: gw.httpUrl, httpVersion: "1.1", useBinaryFormat: true }),
  ],
  [
    "gRPC-Web binary over HTTP/1.1",
    () => createGrpcWebTransport({ baseUrl: gw.httpUrl, httpVersion: "1.1" }),
  ],
  [
    "gRPC-Web JSON over HTTP/1.1",
    () => createGrpcWebTransport({ baseUrl: gw.httpUrl, httpVersion: "1.1", useBinaryFormat: false }),
  ],
  ["gRPC over h2c", () => createGrpcTransport({ baseUrl: gw.h2cUrl })],
  ["gRPC-Web over h2c", () => createGrpcWebTransport({ baseUrl: gw.h2cUrl, httpVersion: "2" })],
  ["Connect JSON over h2c", () => createConnectTransport({ baseUrl: gw.h2cUrl, httpVersion: "2" })],
];

describe.each(transports)("%s", (_name, transport) => {
  it("forwards a unary call with headers and trailers both ways", async () => {
    const client = createClient(TicketService, transport());
    let header: Headers | undefined;
    let trailer: Headers | undefined;
    const res = await client.getTicket(
      { lookup: { case: "ticketId", value: 42 } },
      {
        headers: {
          ...auth(),
          "x-request-id": "req-1",
          "idempotency-key": "idem-1",
          traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        },
        onHeader: (h) => (header = h),
        onTrailer: (t) => (trailer = t),
      },
    );
    expect(res.ticket?.id).toBe(42);
    expect(header?.get("x-served-by")).toBe("ticket");
    expect(trailer?.get("x-rows-read")).toBe("1");
    expect(gw.upstreams.lastGetTicket?.traceparent).toContain("0af7651916cd43dd8448eb211c80319c");
    expect(gw.upstreams.lastGetTicket).toMatchObject({
      idempotencyKey: "idem-1",
      authorization: `Bearer ${token}`,
      forwardedFor: "127.0.0.1",
      custom: "req-1",
    });
  });

  it("returns the service's error code, message, details and metadata", async () => {
    const client = createClient(TicketService, transport());
    const error = await client
      .getTicket({ lookup: { case: "ticketId", value: 404 } }, { headers: auth() })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    expect(error?.code).toBe(Code.NotFound);
    expect(error?.rawMessage).toBe("ticket not found");
    expect(error?.metadata.get("x-reason")).toBe("gone");
    expect(error?.findDetails(ValidationErrorsSchema)[0]?.violations[0]?.description).toBe("no such ticket");
  });

  it("streams server messages, and a cancelled stream is cancelled at the service", async () => {
    gw.upstreams.watchCancelled = false;
    const client = createClient(NotificationService, transport());
    const abort = new AbortController();
    const seen: string[] = [];
    let code: Code | undefined;
    try {
      for await (const res of client.watchEvents({}, { headers: auth(), signal: abort.signal })) {
        if (res.item.case === "event") seen.push(res.item.value.id);
        if (seen.length === 3) abort.abort();
      }
    } catch (error) {
      code = ConnectError.from(error).code;
    }
    expect(seen).toEqual(["evt-1", "evt-2", "evt-3"]);
    expect(code).toBe(Code.Canceled);
    await vi.waitFor(() => expect(gw.upstreams.watchCancelled).toBe(true), { timeout: 5000 });
  });
});

const auth = () => ({ authorization: `Bearer ${token}` });
const connect = () =>
  createClient(TicketService, createConnectTransport({ baseUrl: gw.httpUrl, httpVersion: "1.1" }));

describe("client streaming over h2c", () => {
  it("forwards every message of a client stream", async () => {
    const client = createClient(AttachmentService, createGrpcTransport({ baseUrl: gw.h2cUrl }));
    async function* parts() {
      yield { part: { case: "metadata" as const, value: { name: "a.bin" } } };
      yield { part: { case: "chunk" as const, value: new Uint8Array(1000) } };
      yield { part: { case: "chunk" as const, value: new Uint8Array(234) } };
    }
    const res = await client.uploadFileStream(parts(), { headers: auth() });
    expect(res.file?.name).toBe("a.bin");
    expect(res.file?.size).toBe(1234n);
  });
});

describe("authentication at the edge", () => {
  it("no credential on a procedure that needs one → UNAUTHENTICATED, nothing forwarded", async () => {
    gw.upstreams.lastGetTicket = undefined;
    await expect(connect().getTicket({ lookup: { case: "ticketId", value: 1 } })).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });
    expect(gw.upstreams.lastGetTicket).toBeUndefined();
  });

  it("a forged or expired token → UNAUTHENTICATED", async () => {
    const expired = await gw.upstreams.token(agentPrincipal(), -120);
    for (const bad of ["not-a-jwt", `${token.slice(0, -4)}AAAA`, expired]) {
      await expect(
        connect().getTicket(
          { lookup: { case: "ticketId", value: 1 } },
          { headers: { authorization: `Bearer ${bad}` } },
        ),
      ).rejects.toMatchObject({ code: Code.Unauthenticated });
    }
  });

  it("anonymous callers reach procedures open to them", async () => {
    const identity = createClient(
      IdentityService,
      createConnectTransport({ baseUrl: gw.httpUrl, httpVersion: "1.1" }),
    );
    const jwks = await identity.getJwks({});
    expect(jwks.keys[0]?.kty).toBe("EC");
  });

  it("an API key is exchanged for an access token through CheckApiKey; its scopes are enforced", async () => {
    await connect().getTicket(
      { lookup: { case: "ticketId", value: 5 } },
      { headers: { "x-api-key": SCOPED_KEY } },
    );
    const forwarded = gw.upstreams.lastGetTicket?.authorization ?? "";
    expect(forwarded).toMatch(/^Bearer ey/);
    expect(forwarded).not.toContain(SCOPED_KEY);
    await connect().getTicket(
      { lookup: { case: "ticketId", value: 5 } },
      { headers: { authorization: `Bearer ${SCOPED_KEY}` } },
    );
    await expect(
      connect().createTicket({ subject: "x" }, { headers: { "x-api-key": SCOPED_KEY } }),
    ).rejects.toMatchObject({ code: Code.PermissionDenied });
    await expect(
      connect().getTicket(
        { lookup: { case: "ticketId", value: 5 } },
        { headers: { "x-api-key": "osm_nope" } },
      ),
    ).rejects.toMatchObject({ code: Code.Unauthenticated });
  });
});

describe("OIDC tokens and malformed credentials", () => {
  it("verifies an OIDC provider's token at the edge and forwards it; refuses a wrong audience", async () => {
    const { privateKey, publicKey } = await generateKeyPair("RS256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "idp-1", alg: "RS256", use: "sig" };
    const idp = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => idp.listen(0, "127.0.0.1", resolve));
    const address = idp.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const oidcGw = await startTestGateway(db.url, {
      OIDC_ISSUER: "https://idp.example.com",
      OIDC_JWKS_URL: `http://127.0.0.1:${port}/jwks`,
      OIDC_AUDIENCE: "ostmesh",
    });
    const sign = (audience: string) =>
      new SignJWT({ email: "admin@example.com" })
        .setProtectedHeader({ alg: "RS256", kid: "idp-1" })
        .setIssuer("https://idp.example.com")
        .setAudience(audience)
        .setExpirationTime("5m")
        .sign(privateKey);
    try {
      const identity = createClient(
        IdentityService,
        createConnectTransport({ baseUrl: oidcGw.httpUrl, httpVersion: "1.1" }),
      );
      const good = await sign("ostmesh");
      expect((await identity.getJwks({}, { headers: { authorization: `Bearer ${good}` } })).keys.length).toBe(
        1,
      );
      await expect(
        identity.getJwks({}, { headers: { authorization: `Bearer ${await sign("someone-else")}` } }),
      ).rejects.toMatchObject({ code: Code.Unauthenticated });
    } finally {
      await oidcGw.close();
      await new Promise((resolve) => idp.close(resolve));
    }
  });

  it("a non-Bearer Authorization header → UNAUTHENTICATED", async () => {
    await expect(
      connect().getTicket(
        { lookup: { case: "ticketId", value: 1 } },
        { headers: { authorization: "Basic dXNlcjpwdw==" } },
      ),
    ).rejects.toMatchObject({ code: Code.Unauthenticated });
  });

  it("identity unreachable → an API key cannot be checked: UNAVAILABLE", async () => {
    const broken = await startTestGateway(db.url, { IDENTITY_URL: "http://127.0.0.1:1" });
    try {
      const client = createClient(
        TicketService,
        createConnectTransport({ baseUrl: broken.httpUrl, httpVersion: "1.1" }),
      );
      await expect(
        client.getTicket(
          { lookup: { case: "ticketId", value: 1 } },
          { headers: { "x-api-key": SCOPED_KEY } },
        ),
      ).rejects.toMatchObject({ code: Code.Unavailable });
    } finally {
      await broken.close();
    }
  });
});

describe("deadlines", () => {
  it("a client deadline reaches the service and ends the call on time", async () => {
    const started = Date.now();
    await expect(
      connect().getTicket({ lookup: { case: "number", value: "slow" } }, { headers: auth(), timeoutMs: 300 }),
    ).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    expect(Date.now() - started).toBeLessThan(1900);
    expect(gw.upstreams.lastGetTicket?.timeout).toBeLessThanOrEqual(300);
    expect(gw.upstreams.lastGetTicket?.timeout).toBeGreaterThan(0);
  });
});

describe("CORS", () => {
  it("answers a preflight from an allowed origin with Connect's headers allowed and a cache time", async () => {
    const res = await fetch(`${gw.httpUrl}/osticket.ticket.v1.TicketService/GetTicket`, {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example.com",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,connect-protocol-version,authorization",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    const allowed = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase();
    for (const h of [
      "content-type",
      "connect-protocol-version",
      "connect-timeout-ms",
      "x-grpc-web",
      "authorization",
    ])
      expect(allowed).toContain(h);
    expect(res.headers.get("access-control-max-age")).toBe("600");
  });

  it("refuses a preflight from another origin", async () => {
    const res = await fetch(`${gw.httpUrl}/osticket.ticket.v1.TicketService/GetTicket`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("allows and exposes headers on the actual response", async () => {
    const res = await fetch(`${gw.httpUrl}/osticket.identity.v1.IdentityService/GetJwks`, {
      method: "POST",
      headers: { origin: "https://app.example.com", "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(res.headers.get("access-control-expose-headers")).toContain("Grpc-Status");
  });
});

describe("limits and compression", () => {
  it("rate-limits a caller: RESOURCE_EXHAUSTED with Retry-After", async () => {
    const limited = await startTestGateway(db.url, { GATEWAY_RATE_LIMIT: "0.01", GATEWAY_RATE_BURST: "1" });
    try {
      const client = createClient(
        TicketService,
        createConnectTransport({ baseUrl: limited.httpUrl, httpVersion: "1.1" }),
      );
      const limitedAuth = { authorization: `Bearer ${await limited.upstreams.token(agentPrincipal())}` };
      await client.getTicket({ lookup: { case: "ticketId", value: 1 } }, { headers: limitedAuth });
      const error = await client
        .getTicket({ lookup: { case: "ticketId", value: 1 } }, { headers: limitedAuth })
        .then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
      expect(error?.code).toBe(Code.ResourceExhausted);
      expect(Number(error?.metadata.get("retry-after"))).toBeGreaterThanOrEqual(1);
    } finally {
      await limited.close();
    }
  });

  it("refuses a request body over the message limit", async () => {
    const small = await startTestGateway(db.url, { OSTMESH_MAX_MESSAGE_BYTES: "2KiB" });
    try {
      const client = createClient(
        TicketService,
        createConnectTransport({ baseUrl: small.httpUrl, httpVersion: "1.1" }),
      );
      await expect(
        client.getTicket({ lookup: { case: "number", value: "x".repeat(4096) } }, { headers: auth() }),
      ).rejects.toMatchObject({ code: Code.ResourceExhausted });
    } finally {
      await small.close();
    }
  });

  it("accepts gzip requests and compresses large responses when asked", async () => {
    const body = gzipSync(
      toBinary(
        GetTicketRequestSchema,
        create(GetTicketRequestSchema, { lookup: { case: "ticketId", value: 9 } }),
      ),
    );
    // node:http, not fetch: fetch would decode the body and hide the encoding.
    const res = await new Promise<{ status: number; encoding: string | undefined; body: Buffer }>(
      (resolve, reject) => {
        const req = http.request(
          `${gw.httpUrl}/osticket.ticket.v1.TicketService/GetTicket`,
          {
            method: "POST",
            headers: {
              ...auth(),
              "content-type": "application/proto",
              "content-encoding": "gzip",
              "accept-encoding": "gzip",
              "connect-protocol-version": "1",
            },
          },
          (response) => {
            const chunks: Buffer[] = [];
            response.on("data", (chunk: Buffer) => chunks.push(chunk));
            response.on("end", () =>
              resolve({
                status: response.statusCode ?? 0,
                encoding: response.headers["content-encoding"],
                body: Buffer.concat(chunks),
              }),
            );
          },
        );
        req.on("error", reject);
        req.end(body);
      },
    );
    expect(res.status).toBe(200);
    expect(res.encoding).toBe("gzip");
    expect(gunzipSync(res.body).toString("latin1")).toContain("compress me");
  });
});

describe("OpenAPI and docs", () => {
  it("serves an OpenAPI 3.1 document generated from the descriptors, with the legacy routes", async () => {
    const res = await fetch(`${gw.httpUrl}/openapi.json`);
    expect(res.status).toBe(200);
    const doc: {
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: unknown }>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    } = await res.json();
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths["/osticket.ticket.v1.TicketService/GetTicket"] ?? {}).sort()).toEqual([
      "get",
      "post",
    ]);
    expect(Object.keys(doc.paths["/osticket.ticket.v1.TicketService/CreateTicket"] ?? {})).toEqual(["post"]);
    expect(doc.paths["/osticket.notification.v1.NotificationService/WatchEvents"]).toBeUndefined();
    for (const legacy of ["/api/tickets.json", "/api/tickets.xml", "/api/tickets.email", "/api/tasks/cron"])
      expect(doc.paths[legacy]?.post).toBeDefined();
    expect(
      Object.keys(doc.components.schemas["osticket.ticket.v1.GetTicketRequest"]?.properties ?? {}),
    ).toEqual(["ticketId", "number"]);
  });

  it("the documented GET form of a NO_SIDE_EFFECTS method works through the forwarder", async () => {
    const query = new URLSearchParams({
      connect: "v1",
      encoding: "json",
      message: JSON.stringify({ ticketId: 12 }),
    });
    const res = await fetch(`${gw.httpUrl}/osticket.ticket.v1.TicketService/GetTicket?${query}`, {
      headers: auth(),
    });
    expect(res.status).toBe(200);
    const body: { ticket?: { id?: number } } = await res.json();
    expect(body.ticket?.id).toBe(12);
    const post = await fetch(`${gw.httpUrl}/osticket.ticket.v1.TicketService/CreateTicket?${query}`, {
      headers: auth(),
    });
    expect(post.status).toBe(405);
  });

  it("serves the docs page", async () => {
    const res = await fetch(`${gw.httpUrl}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await res.text()).toContain("/openapi.json");
  });
});
