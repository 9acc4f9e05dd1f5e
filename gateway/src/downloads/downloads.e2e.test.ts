/**
 * Signed downloads through the gateway as production wires it (startGateway → withDownloads in front of the
 * edge, the gateway's own service token from the REAL identity service), in front of the REAL identity and
 * attachment services in one kit process behind the kit's auth interceptor, on a scratch fresh install.
 */
import { randomBytes } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { attachmentService } from "@ostmesh/attachment";
import { digestOf, fileSignature } from "@ostmesh/attachment/storage/index.ts";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { type ServiceProcess, startServiceProcess, Topology } from "@ostmesh/kit";
import { testMeshAuth } from "@ostmesh/kit/auth/testing/mesh.ts";
import { silentLogger, testConfig } from "@ostmesh/kit/testing/harness.ts";
import { AttachmentService, IdentityService } from "@ostmesh/proto";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadGatewayConfig } from "../config.ts";
import { startGateway } from "../server.ts";

const gatewaySecret = randomBytes(32).toString("base64url");
const ticketSecret = randomBytes(32).toString("base64url");

let db: ScratchDatabase;
let services: ServiceProcess;
let gateway: ServiceProcess;
let base: string;
let urlPath: string;
let twiceDecodedId: number;
let twiceDecodedPath: string;
const TWICE_DECODED = Buffer.from([0x1d, 0xe9, 0x65]);

beforeAll(async () => {
  db = await createScratchDatabase({ label: "gwdl" });
  const conn = await mysql.createConnection({ uri: db.url });
  try {
    // osTicket's session: an empty sql_mode (its chunk INSERT names no chunk_id).
    await conn.query("SET SESSION sql_mode = ''");
    // The trace's file exactly as osTicket wrote it (traces/api-create-ticket.full.log lines 30-32).
    const [file] = await conn.query<mysql.ResultSetHeader>(
      "INSERT INTO `ost_file` SET `type` = 'text/plain', `name` = 'trace.txt', `key` = '-Pi5ku6OHcuadwdVvM755vKJBRwX0iCs', `ft` = 'T', `signature` = 'u6OHcuadwdVvM755JAcFvj2DzAGATWKE', `created` = NOW(), `size` = 28",
    );
    await conn.query(
      `INSERT INTO \`ost_file_chunk\` SET \`file_id\` = ${file.insertId}, \`filedata\` = 'unique trace attachment 7f3a'`,
    );
    await conn.query(
      `UPDATE \`ost_file\` SET \`bk\` = 'D' WHERE \`ost_file\`.\`id\` = ${file.insertId} LIMIT 1`,
    );
    // What osTicket's XML API stores for <file encoding="base64">SGVsbG8=</file> (FACTS §2.4): the size of
    // the once-decoded "Hello", the twice-decoded bytes 1D E9 65 and their signature.
    const [twice] = await conn.query<mysql.ResultSetHeader>(
      "INSERT INTO `ost_file` SET `type` = 'text/plain', `name` = 'hello.txt', `key` = 'xmlTwiceDecodedKey0123456789abcd', `ft` = 'T', `signature` = ?, `created` = NOW(), `size` = 5",
      [fileSignature(digestOf(TWICE_DECODED))],
    );
    await conn.query("INSERT INTO `ost_file_chunk` SET `file_id` = ?, `filedata` = ?", [
      twice.insertId,
      TWICE_DECODED,
    ]);
    await conn.query("UPDATE `ost_file` SET `bk` = 'D' WHERE `id` = ? LIMIT 1", [twice.insertId]);
    twiceDecodedId = twice.insertId;
  } finally {
    await conn.end();
  }
  process.env.IDENTITY_SERVICE_CLIENTS = `gateway=${gatewaySecret},ticket=${ticketSecret}`;
  process.env.IDENTITY_KEY_ENCRYPTION_KEY = randomBytes(32).toString("base64");
  const identity = await import("@ostmesh/identity");
  const config = testConfig({ DATABASE_URL: db.url, LOG_LEVEL: "silent" });
  const topology = new Topology(config, ["identity", "attachment"]);
  const auth = testMeshAuth(topology, db.url);
  services = await startServiceProcess({
    name: "mesh-for-downloads",
    config,
    logger: silentLogger(),
    topology,
    services: [
      { name: "identity", register: identity.register },
      {
        name: "attachment",
        register: attachmentService({
          env: { ATTACHMENT_LINK_SECRET: "gateway-download-link-secret-0123456789" },
        }),
      },
    ],
    interceptors: [auth.interceptor],
    onShutdown: [() => auth.close()],
    listen: { h2c: [0], admin: 0 },
    handleSignals: false,
  });
  const url = `http://127.0.0.1:${services.ports.h2c[0]}`;
  // The ticket service's token (files:read) asks for the link, as the ticket service would for a browser.
  const transport = createGrpcTransport({ baseUrl: url });
  const token = await createClient(IdentityService, transport).issueServiceToken({
    serviceName: "ticket",
    secret: ticketSecret,
  });
  const headers = { authorization: `Bearer ${token.tokens?.accessToken ?? ""}` };
  const attachment = createClient(AttachmentService, transport);
  const link = await attachment.createDownloadLink(
    { fileId: await traceFileId(), asAttachment: true },
    { headers },
  );
  urlPath = link.urlPath;
  twiceDecodedPath = (await attachment.createDownloadLink({ fileId: twiceDecodedId }, { headers })).urlPath;
  gateway = await startGateway({
    config: testConfig({
      DATABASE_URL: db.url,
      LOG_LEVEL: "silent",
      IDENTITY_URL: url,
      ATTACHMENT_URL: url,
      TICKET_URL: url,
      NOTIFICATION_URL: url,
    }),
    gateway: loadGatewayConfig({ GATEWAY_SERVICE_SECRET: gatewaySecret, GATEWAY_RATE_LIMIT: "0" }),
    logger: silentLogger(),
    fronted: [],
    listen: { http: 0, h2c: 0, admin: 0 },
    handleSignals: false,
  });
  base = `http://127.0.0.1:${gateway.ports.http1[0]}`;
}, 120_000);

async function traceFileId(): Promise<number> {
  const conn = await mysql.createConnection({ uri: db.url });
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      "SELECT id FROM ost_file WHERE `key` = '-Pi5ku6OHcuadwdVvM755vKJBRwX0iCs'",
    );
    return Number(rows[0]?.id);
  } finally {
    await conn.end();
  }
}

afterAll(async () => {
  await gateway?.shutdown();
  await services?.shutdown();
  await db?.drop();
});

describe("downloads through the gateway's production wiring", () => {
  it("are mounted in front of the edge: links are judged there, every other path still reaches the edge", async () => {
    const url = new URL(urlPath, base);
    url.searchParams.delete("signature");
    const unsigned = await fetch(url);
    expect(unsigned.status).toBe(403);
    expect(await unsigned.text()).toBe("This download link is not valid.\n");
    expect((await fetch(`${base}/openapi.json`)).status).toBe(200);
  });

  /** The gateway's SERVICE token holds files:read (services/identity/src/config.ts SERVICE_SCOPES). */
  it("serve a file osTicket stored, intact, with its headers", async () => {
    const res = await fetch(`${base}${urlPath}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("unique trace attachment 7f3a");
    expect(res.headers.get("etag")).toBe('"u6OHcuadwdVvM755JAcFvj2DzAGATWKE"');
    expect(res.headers.get("content-disposition")).toBe(
      `attachment; filename="trace.txt"; filename*=UTF-8''trace.txt`,
    );
    const range = await fetch(`${base}${urlPath}`, { headers: { range: "bytes=7-11" } });
    expect(range.status).toBe(206);
    expect(await range.text()).toBe("trace");
  });

  it("serve a file osTicket's XML API stored decoded twice: its stored bytes, with their length", async () => {
    const res = await fetch(`${base}${twiceDecodedPath}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe("3");
    expect(Buffer.from(await res.arrayBuffer()).equals(TWICE_DECODED)).toBe(true);
    const range = await fetch(`${base}${twiceDecodedPath}`, { headers: { range: "bytes=-2" } });
    expect(range.status).toBe(206);
    expect(range.headers.get("content-range")).toBe("bytes 1-2/3");
    expect(Buffer.from(await range.arrayBuffer()).equals(TWICE_DECODED.subarray(1))).toBe(true);
  });
});
