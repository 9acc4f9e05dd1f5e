/**
 * Test support for the ticket service's RPCs: the real service (and the real attachment service it stores
 * files through) in one kit process on a scratch copy of the fresh osTicket install, behind the real auth
 * interceptor, served over h2c on a free port and called with a real gRPC client. Callers carry real signed
 * tokens: osTicket's admin agent, a SERVICE principal, end users, and the BOLA world of @ostmesh/kit.
 */
import { create, fromBinary } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { attachmentService } from "@ostmesh/attachment";
import { connectBus, type EventStreamDefinition } from "@ostmesh/bus";
import { deleteStreams, testStream } from "@ostmesh/bus/testing/names.ts";
import {
  createOrm,
  type EntityManager,
  execute,
  type Orm,
  query,
  type Row,
  runMigrations,
} from "@ostmesh/db";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { type ServiceProcess, startServiceProcess } from "@ostmesh/kit";
import {
  authInterceptor,
  loadAgentPrincipal,
  loadEndUserPrincipal,
  type SqlQuery,
} from "@ostmesh/kit/auth/index.ts";
import { createTestIssuer, type TestIssuer } from "@ostmesh/kit/auth/testing/issuer.ts";
import { silentLogger, TEST_NATS_URL, testConfig } from "@ostmesh/kit/testing/harness.ts";
import { stampEventId, TicketService } from "@ostmesh/proto";
import {
  type Principal,
  PrincipalKind,
  PrincipalSchema,
} from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { type Event, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import type { Logger } from "pino";
import { type TicketServiceOptions, ticketService } from "../index.ts";

export const SERVICE_SCOPES = ["tickets:read", "tickets:write", "tickets:create", "cron:run", "syslog:write"];

export interface TicketHarness {
  readonly db: ScratchDatabase;
  /** The test's own ORM on the scratch database, for setting up rows and checking what was written. */
  readonly orm: Orm;
  readonly issuer: TestIssuer;
  readonly process: ServiceProcess;
  readonly stream: EventStreamDefinition;
  readonly client: Client<typeof TicketService>;
  em(): EntityManager;
  query(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  exec(sql: string, params?: readonly unknown[]): Promise<{ insertId: number; affectedRows: number }>;
  /** Headers carrying a signed token of the principal. */
  headers(principal: Principal): Promise<Headers>;
  /** osTicket's admin agent (staff 1, all departments). */
  agent(staffId?: number): Promise<Headers>;
  /** A SERVICE principal (the gateway) with the ticket scopes. */
  service(scopes?: readonly string[]): Promise<Headers>;
  endUser(userId: number): Promise<Headers>;
  /** Row counts of every table, to prove that a failure wrote nothing. */
  counts(): Promise<Map<string, number>>;
  /** Events in the outbox, oldest first. */
  events(): Promise<Event[]>;
  setConfig(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions extends Pick<TicketServiceOptions, "clock" | "random"> {
  /** TICKET_* variables (the relay is off unless TICKET_OUTBOX_RELAY is given). */
  readonly env?: Readonly<Record<string, string>>;
  /** The service process's logger (silent when absent). */
  readonly logger?: Logger;
}

export async function ticketHarness(label: string, options: HarnessOptions = {}): Promise<TicketHarness> {
  const db = await createScratchDatabase({ label });
  const orm = await createOrm({ url: db.url, pool: { max: 4 } });
  await runMigrations(orm);
  const em = () => orm.em.fork();
  // The test box has no DNS: as on the FACTS capture install, new requesters' domains are not looked up.
  await execute(
    em(),
    "INSERT INTO ost_config (namespace, `key`, value, updated) VALUES ('core', 'verify_email_addrs', '0', NOW())" +
      " ON DUPLICATE KEY UPDATE value = '0'",
  );
  const issuer = await createTestIssuer();
  const q: SqlQuery = (sql, params = []) => query(em(), sql, params);
  const stream = testStream(label);
  const ownToken = await issuer.sign(
    create(PrincipalSchema, {
      actor: { kind: PrincipalKind.SERVICE, username: "ticket", displayName: "ticket" },
      scopes: ["files:read", "files:write"],
    }),
    { ttlSec: 3600 },
  );
  const proc = await startServiceProcess({
    name: "ostmesh-ticket-test",
    config: testConfig({ DATABASE_URL: db.url, NATS_URL: TEST_NATS_URL, LOG_LEVEL: "silent" }),
    logger: options.logger ?? silentLogger(),
    services: [
      {
        name: "ticket",
        register: ticketService({
          env: { TICKET_OUTBOX_RELAY: "false", TICKET_METADATA_TTL: "0", ...options.env },
          stream,
          clock: options.clock,
          random: options.random,
          authorization: async () => `Bearer ${ownToken}`,
        }),
      },
      {
        name: "attachment",
        register: attachmentService({
          env: { ATTACHMENT_LINK_SECRET: "ticket-test-link-secret-0123456789abcdef" },
        }),
      },
    ],
    interceptors: [authInterceptor({ tokens: issuer.verifier, db: q })],
    listen: { h2c: [0], admin: 0, host: "127.0.0.1" },
    handleSignals: false,
  });
  const baseUrl = `http://127.0.0.1:${proc.ports.h2c[0]}`;
  const session = new Http2SessionManager(baseUrl);
  const transport = createGrpcTransport({ baseUrl, sessionManager: session });
  const headers = async (principal: Principal) =>
    new Headers({ authorization: `Bearer ${await issuer.sign(principal, { ttlSec: 3600 })}` });
  const harness: TicketHarness = {
    db,
    orm,
    issuer,
    process: proc,
    stream,
    client: createClient(TicketService, transport),
    em,
    query: (sql, params = []) => query(em(), sql, params),
    exec: (sql, params = []) => execute(em(), sql, params),
    headers,
    async agent(staffId = 1) {
      const principal = await loadAgentPrincipal(q, staffId);
      if (!principal) throw new Error(`agent ${staffId} is not active`);
      return headers(principal);
    },
    service: (scopes = SERVICE_SCOPES) =>
      headers(
        create(PrincipalSchema, {
          actor: { kind: PrincipalKind.SERVICE, username: "gateway", displayName: "gateway" },
          scopes: [...scopes],
        }),
      ),
    async endUser(userId) {
      const principal = await loadEndUserPrincipal(q, userId);
      if (!principal) throw new Error(`user ${userId} cannot sign in`);
      return headers(principal);
    },
    async counts() {
      const tables = await harness.query(
        "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME",
      );
      const names = tables.map((t) => String(t.name));
      const rows = await harness.query(
        names.map((n) => `SELECT '${n}' AS name, COUNT(*) AS n FROM \`${n}\``).join(" UNION ALL "),
      );
      return new Map(rows.map((r) => [String(r.name), Number(r.n)]));
    },
    async events() {
      const rows = await harness.query("SELECT id, event_type, payload FROM ostmesh_outbox ORDER BY id");
      return rows.map((r) => {
        const payload = r.payload;
        if (!(payload instanceof Uint8Array)) throw new Error("outbox payload is not binary");
        // As the relay publishes it: the outbox id stamped into Event.id.
        return fromBinary(
          EventSchema,
          stampEventId({ id: String(r.id), eventType: String(r.event_type), payload }),
        );
      });
    },
    async setConfig(key, value) {
      const updated = await harness.exec(
        "UPDATE ost_config SET value = ? WHERE namespace = 'core' AND `key` = ?",
        [value, key],
      );
      if (!updated.affectedRows)
        await harness.exec(
          "INSERT IGNORE INTO ost_config (namespace, `key`, value, updated) VALUES ('core', ?, ?, NOW())",
          [key, value],
        );
    },
    async close() {
      session.abort();
      await proc.shutdown("test done");
      const bus = await connectBus({ url: TEST_NATS_URL, name: "ticket-test-cleanup" });
      await deleteStreams(bus.jsm, [stream.name]);
      await bus.close();
      await orm.close(true);
      await db.drop();
    },
  };
  return harness;
}

/** A new end user with an e-mail address (and optionally an organization), as osTicket stores one. */
export async function insertUser(
  h: TicketHarness,
  o: { name: string; email: string; orgId?: number },
): Promise<number> {
  const email = await h.exec("INSERT INTO ost_user_email SET user_id = 0, flags = 0, address = ?", [o.email]);
  const user = await h.exec(
    "INSERT INTO ost_user SET org_id = ?, default_email_id = ?, status = 0, name = ?, created = NOW(), updated = NOW()",
    [o.orgId ?? 0, email.insertId, o.name],
  );
  await h.exec("UPDATE ost_user_email SET user_id = ? WHERE id = ?", [user.insertId, email.insertId]);
  return user.insertId;
}
