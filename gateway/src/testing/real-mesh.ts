/**
 * The REAL identity, ticket and attachment services (and notification, on request) (their own register functions, ORM, migrations, outbox,
 * the kit auth interceptor) in one kit process on a scratch copy of the fresh osTicket install, the gateway
 * in front as in production — for end-to-end tests of the legacy API and the edge. An API key (KEY) that may
 * create tickets and run cron is installed for 127.0.0.1, and verify_email_addrs is off (no DNS here).
 */
import { randomBytes } from "node:crypto";
import { attachmentService } from "@ostmesh/attachment";
import { connectBus, type EventStreamDefinition } from "@ostmesh/bus";
import { deleteStreams, testStream } from "@ostmesh/bus/testing/names.ts";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { type ServiceProcess, startServiceProcess, Topology } from "@ostmesh/kit";
import type { MeshAuth } from "@ostmesh/kit/auth/index.ts";
import { testMeshAuth } from "@ostmesh/kit/auth/testing/mesh.ts";
import { silentLogger, TEST_NATS_URL, testConfig } from "@ostmesh/kit/testing/harness.ts";
import { notificationService } from "@ostmesh/notification";
import { ticketService } from "@ostmesh/ticket";
import mysql from "mysql2/promise";
import { loadGatewayConfig } from "../config.ts";
import { startGateway } from "../server.ts";

/** The API key every real-mesh test sends (installed active, for 127.0.0.1, tickets and cron). */
export const KEY = "5E5E5E5E5E5E5E5E5E5E5E5E5E5E5E5E";

export type Row = Record<string, unknown>;

export interface LegacyAnswer {
  status: number;
  body: string;
  contentType: string | null;
}

export interface RealMesh {
  db: ScratchDatabase;
  /** A connection to the scratch database (dateStrings). */
  conn: mysql.Connection;
  services: ServiceProcess;
  gateway: ServiceProcess;
  /** http://127.0.0.1:<gateway public HTTP/1.1 port> */
  base: string;
  rows(sql: string, params?: unknown[]): Promise<Row[]>;
  /** POST to the gateway with `X-API-Key: key` (no header when key is null). */
  post(path: string, body: string | undefined, key?: string | null): Promise<LegacyAnswer>;
  ticketByNumber(number: string): Promise<Row>;
  /** The first message (type M) of a ticket's thread. */
  firstEntry(ticketId: unknown): Promise<Row>;
  lastLogId(): Promise<number>;
  close(): Promise<void>;
}

export interface RealMeshOptions {
  /** Names the scratch database and the test stream. */
  label: string;
  /** Runs on the scratch database before any service starts. */
  prepare?: (conn: mysql.Connection) => Promise<void>;
  /** Also host the real notification service (events, WatchEvents, change capture). */
  notification?: boolean;
}

export async function startRealMesh(options: RealMeshOptions): Promise<RealMesh> {
  const gatewaySecret = randomBytes(32).toString("base64url");
  const ticketSecret = randomBytes(32).toString("base64url");
  const db = await createScratchDatabase({ label: options.label });
  const conn = await mysql.createConnection({ uri: db.url, dateStrings: true });
  let stream: EventStreamDefinition | undefined;
  let services: ServiceProcess | undefined;
  let gateway: ServiceProcess | undefined;
  const close = async () => {
    await gateway?.shutdown();
    await services?.shutdown();
    if (stream) {
      const bus = await connectBus({ url: TEST_NATS_URL, name: `${options.label}-cleanup` });
      await deleteStreams(bus.jsm, [stream.name]);
      await bus.close();
    }
    await conn.end();
    await db.drop();
  };
  try {
    // The test box has no DNS: as on FACTS' second capture install, new requesters' domains are not looked up.
    await conn.query(
      "INSERT INTO ost_config (namespace, `key`, value, updated) VALUES ('core', 'verify_email_addrs', '0', NOW()) ON DUPLICATE KEY UPDATE value = '0'",
    );
    await conn.query(
      "INSERT INTO ost_api_key SET isactive = 1, ipaddr = '127.0.0.1', apikey = ?, can_create_tickets = 1, can_exec_cron = 1, notes = 'gw', updated = NOW(), created = NOW()",
      [KEY],
    );
    await options.prepare?.(conn);
    process.env.IDENTITY_SERVICE_CLIENTS = `gateway=${gatewaySecret},ticket=${ticketSecret}`;
    process.env.IDENTITY_KEY_ENCRYPTION_KEY = randomBytes(32).toString("base64");
    const identity = await import("@ostmesh/identity");
    stream = testStream(options.label);
    const config = testConfig({ DATABASE_URL: db.url, NATS_URL: TEST_NATS_URL, LOG_LEVEL: "silent" });
    const topology = new Topology(config, [
      "identity",
      "ticket",
      "attachment",
      ...(options.notification ? (["notification"] as const) : []),
    ]);
    const auth: MeshAuth = testMeshAuth(topology, db.url);
    services = await startServiceProcess({
      name: "mesh-for-gateway",
      config,
      logger: silentLogger(),
      topology,
      services: [
        { name: "identity", register: identity.register },
        {
          name: "ticket",
          register: ticketService({
            env: { TICKET_OUTBOX_RELAY: "false", TICKET_SERVICE_SECRET: ticketSecret },
            stream,
          }),
        },
        {
          name: "attachment",
          register: attachmentService({
            env: { ATTACHMENT_LINK_SECRET: "gateway-test-link-secret-0123456789abcdef" },
          }),
        },
        ...(options.notification
          ? [{ name: "notification" as const, register: notificationService({ env: {}, stream }) }]
          : []),
      ],
      interceptors: [auth.interceptor],
      onShutdown: [() => auth.close()],
      listen: { h2c: [0], admin: 0 },
      handleSignals: false,
    });
    const url = `http://127.0.0.1:${services.ports.h2c[0]}`;
    gateway = await startGateway({
      config: testConfig({
        DATABASE_URL: db.url,
        LOG_LEVEL: "silent",
        TICKET_URL: url,
        IDENTITY_URL: url,
        ATTACHMENT_URL: url,
        NOTIFICATION_URL: url,
      }),
      gateway: loadGatewayConfig({ GATEWAY_SERVICE_SECRET: gatewaySecret, GATEWAY_RATE_LIMIT: "0" }),
      logger: silentLogger(),
      fronted: [],
      listen: { http: 0, h2c: 0, admin: 0 },
      handleSignals: false,
    });
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
  const base = `http://127.0.0.1:${gateway.ports.http1[0]}`;

  const rows = async (sql: string, params: unknown[] = []): Promise<Row[]> => {
    const [result] = await conn.query<mysql.RowDataPacket[]>(sql, params);
    return result;
  };
  return {
    db,
    conn,
    services,
    gateway,
    base,
    rows,
    async post(path, body, key = KEY) {
      const res = await fetch(`${base}${path}`, {
        method: "POST",
        headers: key ? { "x-api-key": key } : {},
        body,
      });
      return { status: res.status, body: await res.text(), contentType: res.headers.get("content-type") };
    },
    async ticketByNumber(number) {
      const [ticket] = await rows("SELECT * FROM ost_ticket WHERE number = ?", [number]);
      if (!ticket) throw new Error(`no ticket ${number}`);
      return ticket;
    },
    async firstEntry(ticketId) {
      const [entry] = await rows(
        "SELECT e.* FROM ost_thread_entry e JOIN ost_thread t ON t.id = e.thread_id WHERE t.object_type = 'T' AND t.object_id = ? AND e.type = 'M' ORDER BY e.id",
        [ticketId],
      );
      if (!entry) throw new Error("no message");
      return entry;
    },
    async lastLogId() {
      const [row] = await rows("SELECT COALESCE(MAX(log_id), 0) AS id FROM ost_syslog");
      return Number(row?.id ?? 0);
    },
    close,
  };
}
