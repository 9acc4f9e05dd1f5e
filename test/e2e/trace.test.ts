/**
 * One user action, one trace: a legacy `POST /api/tickets.json` with an attachment, sent to the real mesh
 * (five processes, each exporting OTLP/HTTP JSON to a receiver in this test), must come back as one trace
 * whose spans cover the gateway, the ticket and attachment services, their SQL, the outbox relay's publish,
 * the notification service's handling of the event and its deliveries — the webhook POST to a receiver in
 * this test and the SMTP sends of osTicket's alerts to an SMTP server in this test — with correct parent
 * links and OTel attributes.
 */
import { startReceiver, type TestReceiver } from "@ostmesh/notification/testing/receiver.ts";
import { startSmtpServer, type TestSmtpServer } from "@ostmesh/notification/testing/smtp.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Mesh, OTLP_KIND, poll, type ReceivedSpan, startMesh } from "./mesh.ts";

const ATTACHMENT_BYTES = Buffer.from("printer log: paper jam in tray 2\n");
/** The webhook URL's query carries a token, as many do: spans must not. */
const WEBHOOK_TOKEN = "e2e-webhook-token-1234";

/** A Connect JSON call through the gateway's HTTP/1.1 port; throws unless it answers 200. */
async function connectCall(
  base: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status} ${text}`);
  return JSON.parse(text);
}

describe("one trace for one legacy ticket create", () => {
  let mesh: Mesh;
  let smtp: TestSmtpServer;
  let receiver: TestReceiver;
  let status = 0;
  let body = "";
  let trace: ReceivedSpan[] = [];

  const inTrace = () => {
    const root = mesh.otlp.spans.find(
      (s) =>
        s.service === "ostmesh-gateway" &&
        s.kind === OTLP_KIND.SERVER &&
        s.attributes["url.path"] === "/api/tickets.json",
    );
    return root ? mesh.otlp.spans.filter((s) => s.traceId === root.traceId) : [];
  };
  const one = (what: string, match: (s: ReceivedSpan) => boolean): ReceivedSpan => {
    const found = trace.filter(match);
    expect(found.length, `${what}: ${found.length} spans`).toBeGreaterThanOrEqual(1);
    const span = found[0];
    if (!span) throw new Error(`no ${what}`);
    return span;
  };
  const byId = (id: string) => trace.find((s) => s.spanId === id);
  /** True when `ancestor` is `span` or above it in the tree. */
  const under = (span: ReceivedSpan, ancestor: ReceivedSpan): boolean => {
    for (let s: ReceivedSpan | undefined = span; s; s = byId(s.parentSpanId))
      if (s.spanId === ancestor.spanId) return true;
    return false;
  };

  beforeAll(async () => {
    smtp = await startSmtpServer();
    receiver = await startReceiver(`/hook?token=${WEBHOOK_TOKEN}`);
    mesh = await startMesh({
      label: "trace",
      // The notification service mails through the test's SMTP server and may POST to loopback.
      env: { SMTP_URL: smtp.url, WEBHOOK_ALLOWED_CIDRS: "127.0.0.1/32" },
    });
    // An admin subscribes the test's receiver to ticket events, through the gateway (in traces of their own).
    const login = await connectCall(mesh.gatewayUrl, "osticket.identity.v1.IdentityService/Login", {
      kind: "PRINCIPAL_KIND_AGENT",
      username: "ostadmin",
      password: "Adm1nPass!",
    });
    const tokens = login.tokens;
    const accessToken =
      tokens && typeof tokens === "object" && "accessToken" in tokens ? String(tokens.accessToken) : "";
    await connectCall(
      mesh.gatewayUrl,
      "osticket.notification.v1.NotificationService/CreateWebhook",
      { url: receiver.url, eventTypes: ["ticket.*"] },
      { authorization: `Bearer ${accessToken}` },
    );
    const res = await fetch(`${mesh.gatewayUrl}/api/tickets.json`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": mesh.apiKey },
      body: JSON.stringify({
        email: "trace.reader@example.com",
        name: "Trace Reader",
        subject: "Printer jams",
        message: "data:text/plain,The printer jams on every page.",
        attachments: [{ "printer.log": `data:text/plain;base64,${ATTACHMENT_BYTES.toString("base64")}` }],
      }),
    });
    status = res.status;
    body = await res.text();
    // Spans reach the receiver in batches (every 5 s per process): poll until every hop shows, then stop the
    // processes, which flush the stragglers (SQL of the last hops) on the way out. The tests below only
    // read what was recorded.
    const hops = (spans: ReceivedSpan[]) =>
      spans.some((sp) => sp.service === "ostmesh-gateway" && sp.kind === OTLP_KIND.SERVER) &&
      spans.some((sp) => sp.service === "ostmesh-ticket" && sp.kind === OTLP_KIND.SERVER) &&
      spans.some((sp) => sp.service === "ostmesh-attachment" && sp.kind === OTLP_KIND.SERVER) &&
      (status !== 201 ||
        (spans.some((sp) => sp.service === "ostmesh-notification" && sp.kind === OTLP_KIND.CONSUMER) &&
          spans.some((sp) => sp.service === "ostmesh-notification" && sp.name === "POST") &&
          spans.some((sp) => sp.service === "ostmesh-notification" && sp.name === "SMTP send")));
    await poll(
      "every hop's span in the request's trace",
      () => (hops(inTrace()) ? true : undefined),
      30_000,
    ).catch(() => undefined);
    await mesh.stopProcesses();
    trace = inTrace();
  }, 150_000);

  afterAll(async () => {
    await mesh?.stop();
    await receiver?.close();
    await smtp?.close();
  }, 60_000);

  it("starts at the gateway's HTTP server span with HTTP semantic-convention attributes", () => {
    const root = one(
      "gateway HTTP server span",
      (s) => s.service === "ostmesh-gateway" && s.kind === OTLP_KIND.SERVER,
    );
    expect(root.parentSpanId).toBe("");
    expect(root.name).toBe("POST");
    expect(root.attributes).toMatchObject({
      "http.request.method": "POST",
      "url.path": "/api/tickets.json",
      "url.scheme": "http",
      "http.response.status_code": status,
      "network.protocol.version": "1.1",
    });
    expect(mesh.otlp.rejected).toEqual([]);
    // Every span of the action shares the trace id of this root; and these processes took part.
    expect(new Set(trace.map((s) => s.traceId)).size).toBe(1);
    const services = new Set(trace.map((s) => s.service));
    for (const name of ["ostmesh-gateway", "ostmesh-identity", "ostmesh-ticket", "ostmesh-attachment"])
      expect(services, name).toContain(name);
  });

  it("crosses HTTP/2 from the gateway to the ticket service and on to the attachment service", () => {
    const root = one(
      "gateway HTTP server span",
      (s) => s.service === "ostmesh-gateway" && s.kind === OTLP_KIND.SERVER,
    );
    const create = "osticket.ticket.v1.TicketService/CreateTicket";
    const gwClient = one(
      "gateway CreateTicket client span",
      (s) => s.service === "ostmesh-gateway" && s.kind === OTLP_KIND.CLIENT && s.name === create,
    );
    expect(gwClient.parentSpanId).toBe(root.spanId);
    const ticketServer = one(
      "ticket CreateTicket server span",
      (s) => s.service === "ostmesh-ticket" && s.kind === OTLP_KIND.SERVER && s.name === create,
    );
    expect(ticketServer.parentSpanId).toBe(gwClient.spanId);
    expect(ticketServer.attributes).toMatchObject({
      "rpc.system": "grpc",
      "rpc.service": "osticket.ticket.v1.TicketService",
      "rpc.method": "CreateTicket",
    });
    expect(typeof ticketServer.attributes["rpc.grpc.status_code"]).toBe("number");

    const upload = (s: ReceivedSpan) => s.name.startsWith("osticket.attachment.v1.AttachmentService/");
    const ticketClient = one(
      "ticket -> attachment client span",
      (s) => s.service === "ostmesh-ticket" && s.kind === OTLP_KIND.CLIENT && upload(s),
    );
    expect(under(ticketClient, ticketServer)).toBe(true);
    const attachmentServer = one(
      "attachment server span",
      (s) =>
        s.service === "ostmesh-attachment" &&
        s.kind === OTLP_KIND.SERVER &&
        s.parentSpanId === ticketClient.spanId,
    );
    expect(attachmentServer.attributes).toMatchObject({
      "rpc.system": "grpc",
      "rpc.service": "osticket.attachment.v1.AttachmentService",
    });
    expect(typeof attachmentServer.attributes["rpc.grpc.status_code"]).toBe("number");
  });

  it("has the SQL statements of each service below that service's RPC span, with DB attributes", () => {
    const ticketServer = one(
      "ticket CreateTicket server span",
      (s) =>
        s.service === "ostmesh-ticket" && s.kind === OTLP_KIND.SERVER && s.name.endsWith("/CreateTicket"),
    );
    const sql = trace.filter((s) => s.scope === "@opentelemetry/instrumentation-mysql2");
    const ticketSql = sql.filter((s) => s.service === "ostmesh-ticket");
    expect(ticketSql.some((s) => under(s, ticketServer))).toBe(true);
    // No orphan statement: each one hangs below a SERVER (RPC) or CONSUMER (event) span of its own process.
    for (const s of sql) {
      let owner = byId(s.parentSpanId);
      const handles = (o: ReceivedSpan) =>
        (o.kind === OTLP_KIND.SERVER || o.kind === OTLP_KIND.CONSUMER) && o.service === s.service;
      while (owner && !handles(owner)) owner = byId(owner.parentSpanId);
      expect(owner, `RPC or CONSUMER span above ${String(s.attributes["db.query.text"])}`).toBeDefined();
    }
    const attachmentServer = one(
      "attachment server span",
      (s) => s.service === "ostmesh-attachment" && s.kind === OTLP_KIND.SERVER,
    );
    expect(sql.some((s) => s.service === "ostmesh-attachment" && under(s, attachmentServer))).toBe(true);
    for (const s of sql) {
      expect(s.kind).toBe(OTLP_KIND.CLIENT);
      expect(s.attributes).toMatchObject({
        "db.system.name": "mysql",
        "db.namespace": mesh.db.name,
        "server.address": "127.0.0.1",
        "server.port": 3306,
      });
    }
  });

  it("keeps secrets and personal data out of every span, and starts no trace for a background query", () => {
    const spans = mesh.otlp.spans;
    expect(spans.length).toBeGreaterThan(0);
    // What the request carried that a tracing backend must never hold: the API key (identity looks it up
    // by value), the requester's address, name and message. SQL is exported with its literals replaced.
    const secrets = [
      mesh.apiKey,
      "trace.reader@example.com",
      "Trace Reader",
      "The printer jams on every page",
    ];
    for (const span of spans) {
      const text = JSON.stringify(span.attributes);
      for (const secret of secrets) expect(text, `${span.service} ${span.name}`).not.toContain(secret);
    }
    const sql = spans.filter((s) => s.scope === "@opentelemetry/instrumentation-mysql2");
    expect(
      sql.some((s) => /INSERT INTO `?ost_ticket`? \(/i.test(String(s.attributes["db.query.text"]))),
    ).toBe(true);
    // A poller's or the relay's statements belong to no request: they make no traces of their own (the idle
    // mesh would otherwise send one every few hundred milliseconds per process).
    const roots = sql.filter((s) => !s.parentSpanId);
    expect(roots.map((s) => `${s.service}: ${String(s.attributes["db.query.text"]).slice(0, 80)}`)).toEqual(
      [],
    );
  });

  // The relay runs later, in another task and maybe another process (ticket and notification both run one;
  // the lease holder publishes); the notification service consumes the event.
  it("creates the ticket and continues through the outbox relay's PRODUCER span into the notification CONSUMER span", () => {
    const problems = mesh.processes
      .flatMap((p) => p.output().split("\n"))
      .filter((l) => /"level":"(warn|error|fatal)"|access denied|"code":"(?!ok)/.test(l))
      .map((l) => l.slice(0, 400));
    expect(status, `${body}\n${problems.join("\n")}`).toBe(201);
    expect(body).toMatch(/^\d+$/);
    expect(mesh.otlp.rejected).toEqual([]);
    const sql = trace.filter((s) => s.scope === "@opentelemetry/instrumentation-mysql2");
    const text = (service: string) =>
      sql.filter((s) => s.service === service).map((s) => String(s.attributes["db.query.text"]));
    expect(text("ostmesh-ticket").some((q) => /INSERT INTO `?ost_ticket`?\b/i.test(q))).toBe(true);
    expect(text("ostmesh-ticket").some((q) => /INSERT INTO `?ostmesh_outbox`?/i.test(q))).toBe(true);
    expect(text("ostmesh-attachment").some((q) => /ost_file/i.test(q))).toBe(true);
    for (const span of trace.filter(
      (x) => x.kind === OTLP_KIND.SERVER && /\/(CreateTicket|UploadFile)$/.test(x.name),
    ))
      expect(span.attributes["rpc.grpc.status_code"], span.name).toBe(0);

    const ticketServer = one(
      "ticket CreateTicket server span",
      (s) =>
        s.service === "ostmesh-ticket" && s.kind === OTLP_KIND.SERVER && s.name.endsWith("/CreateTicket"),
    );
    const producer = one(
      "outbox relay PRODUCER span",
      (s) =>
        s.kind === OTLP_KIND.PRODUCER &&
        String(s.attributes["messaging.destination.name"]).startsWith(`${mesh.stream.subjectPrefix}.ticket.`),
    );
    // The relay runs later, in another task (and maybe another replica): its span continues the trace of
    // the request that wrote the outbox row, below the RPC that wrote it.
    expect(under(producer, ticketServer)).toBe(true);
    expect(producer.attributes).toMatchObject({
      "messaging.system": "nats",
      "messaging.operation.type": "send",
      "messaging.nats.stream": mesh.stream.name,
    });
    const consumer = one(
      "notification CONSUMER span",
      (s) =>
        s.service === "ostmesh-notification" &&
        s.kind === OTLP_KIND.CONSUMER &&
        s.attributes["messaging.destination.name"] === producer.attributes["messaging.destination.name"],
    );
    expect(consumer.parentSpanId).toBe(producer.spanId);
    expect(consumer.attributes).toMatchObject({
      "messaging.system": "nats",
      "messaging.operation.type": "process",
      "messaging.nats.stream": mesh.stream.name,
      "messaging.message.id": producer.attributes["messaging.message.id"],
    });
    // The handler's own work (its SQL) is part of the same trace, below the CONSUMER span.
    expect(
      trace.some(
        (s) => s.service === "ostmesh-notification" && s.spanId !== consumer.spanId && under(s, consumer),
      ),
    ).toBe(true);
  });

  /** The notification CONSUMER span of durable `group` for the create's event, below the relay's PRODUCER. */
  const consumerOf = (group: string): ReceivedSpan => {
    const producer = one(
      "outbox relay PRODUCER span",
      (s) =>
        s.kind === OTLP_KIND.PRODUCER &&
        String(s.attributes["messaging.destination.name"]).startsWith(`${mesh.stream.subjectPrefix}.ticket.`),
    );
    const consumer = one(
      `${group} CONSUMER span`,
      (s) =>
        s.service === "ostmesh-notification" &&
        s.kind === OTLP_KIND.CONSUMER &&
        s.attributes["messaging.consumer.group.name"] === group,
    );
    expect(consumer.parentSpanId).toBe(producer.spanId);
    return consumer;
  };
  const root = () =>
    one("gateway HTTP server span", (s) => s.service === "ostmesh-gateway" && s.kind === OTLP_KIND.SERVER);

  it("continues into the webhook delivery: a CLIENT span below the webhook consumer, its traceparent sent", () => {
    expect(status).toBe(201);
    const consumer = consumerOf("notification-webhooks");
    const delivery = one(
      "webhook delivery CLIENT span",
      (s) => s.service === "ostmesh-notification" && s.kind === OTLP_KIND.CLIENT && s.name === "POST",
    );
    expect(delivery.parentSpanId).toBe(consumer.spanId);
    expect(under(delivery, root())).toBe(true);
    const port = new URL(receiver.url).port;
    expect(delivery.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.response.status_code": 200,
      "url.full": `http://127.0.0.1:${port}/hook?token=REDACTED`,
      "server.address": "127.0.0.1",
      "server.port": Number(port),
      "ostmesh.event.type": "ticket.created",
      "ostmesh.webhook.attempt": 1,
    });
    expect(delivery.status.code ?? 0).not.toBe(2); // STATUS_CODE_ERROR
    expect(JSON.stringify(trace.map((s) => s.attributes))).not.toContain(WEBHOOK_TOKEN);
    // One CLIENT span for the request (node:http's own is suppressed below it); the receiver's parent is it.
    expect(trace.filter((s) => s.parentSpanId === delivery.spanId)).toEqual([]);
    const request = receiver.received.find(
      (r) => r.headers["ostmesh-event-id"] === delivery.attributes["ostmesh.event.id"],
    );
    expect(request?.headers.traceparent).toBe(`00-${delivery.traceId}-${delivery.spanId}-01`);
  });

  it("continues into the e-mail sends: one SMTP CLIENT span per mail, below the e-mail consumer", () => {
    expect(status).toBe(201);
    const consumer = consumerOf("notification-email");
    const sends = trace.filter((s) => s.service === "ostmesh-notification" && s.name === "SMTP send");
    // osTicket's new-ticket alert (and the auto-response, when on): each one sent once, at the first attempt.
    expect(smtp.received.length).toBeGreaterThanOrEqual(1);
    expect(sends).toHaveLength(smtp.received.length);
    const port = Number(new URL(smtp.url).port);
    for (const send of sends) {
      expect(send.kind).toBe(OTLP_KIND.CLIENT);
      expect(send.parentSpanId).toBe(consumer.spanId);
      expect(under(send, root())).toBe(true);
      expect(send.attributes).toMatchObject({
        "network.protocol.name": "smtp",
        "server.address": "127.0.0.1",
        "server.port": port,
        "ostmesh.email.attempt": 1,
        "ostmesh.email.recipient_count": 1,
        "ostmesh.event.id": consumer.attributes["messaging.message.id"],
      });
      expect(typeof send.attributes["ostmesh.email.id"]).toBe("number");
      expect(send.status.code ?? 0).not.toBe(2);
    }
    expect(new Set(sends.map((s) => s.attributes["ostmesh.email.template"]))).toContain("ticket.alert");
    // Recipients are counted, never named.
    for (const mail of smtp.received)
      for (const address of mail.rcptTo)
        expect(JSON.stringify(sends.map((s) => s.attributes))).not.toContain(address);
  });
});
