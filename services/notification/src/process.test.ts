import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { eventStream, writeOutbox } from "@ostmesh/bus";
import { deleteStreams } from "@ostmesh/bus/testing/names.ts";
import { query } from "@ostmesh/db";
import { runId } from "@ostmesh/db/testing/scratch.ts";
import { loadMeshConfig, type ServiceProcess, startServiceProcess } from "@ostmesh/kit";
import { loadAgentPrincipal } from "@ostmesh/kit/auth/directory.ts";
import { authInterceptor } from "@ostmesh/kit/auth/interceptor.ts";
import { createTestIssuer } from "@ostmesh/kit/auth/testing/issuer.ts";
import { EventTypes } from "@ostmesh/proto";
import { PrincipalKind, PrincipalSchema } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { EventOrigin } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { AggregateType, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import {
  DeliveryStatus,
  NotificationService,
  type WatchEventsResponse,
} from "@ostmesh/proto/gen/osticket/notification/v1/notification_service_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outboxEventOf } from "./capture/capture.ts";
import { name, register } from "./index.ts";
import { createTestEnv, type TestEnv, waitFor } from "./testing/env.ts";
import { replayApiCreateTicket } from "./testing/osticket-php.ts";
import { startReceiver, type TestReceiver } from "./testing/receiver.ts";
import { startSmtpServer, type TestSmtpServer } from "./testing/smtp.ts";
import { watchStats } from "./watch/watch.ts";

/**
 * The notification service as a process runs it: the kit's server bootstrap with the auth interceptor,
 * `register` reading its configuration from the environment, real MariaDB, NATS, SMTP and HTTP receivers.
 * A change made by osTicket's PHP side reaches a webhook and a live stream (and no e-mail: osTicket sent its
 * own); a change made through ostmesh reaches them too, and its e-mails are sent.
 */
describe("the notification process end to end", () => {
  let env: TestEnv;
  let smtp: TestSmtpServer;
  let receiver: TestReceiver;
  let proc: ServiceProcess;
  const streamName = `T_${runId()}_notifproc_${randomBytes(3).toString("hex")}`;
  const prefix = `t_${runId()}.notifproc_${randomBytes(3).toString("hex")}.events`;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    env = await createTestEnv("notifproc");
    smtp = await startSmtpServer();
    receiver = await startReceiver();
    const vars: Record<string, string> = {
      NATS_EVENTS_STREAM: streamName,
      NATS_EVENTS_SUBJECT_PREFIX: prefix,
      SMTP_URL: smtp.url,
      WEBHOOK_ALLOWED_CIDRS: "127.0.0.1/32",
    };
    for (const [key, value] of Object.entries(vars)) {
      saved[key] = process.env[key];
      process.env[key] = value;
    }
    await env.orm.em
      .fork()
      .execute(
        "UPDATE ost_config SET value = '1' WHERE namespace = 'core' AND `key` = 'ticket_autoresponder'",
      );
    const issuer = await createTestIssuer();
    const config = loadMeshConfig({
      DATABASE_URL: env.db.url,
      NOTIFICATION_PORT: "0",
      NOTIFICATION_ADMIN_PORT: "0",
      OSTMESH_BIND_HOST: "127.0.0.1",
      LOG_LEVEL: "silent",
    });
    proc = await startServiceProcess({
      name: "test-notification",
      config,
      services: [{ name, register }],
      interceptors: [authInterceptor({ tokens: issuer.verifier })],
      listen: { h2c: [0], admin: 0 },
      handleSignals: false,
    });
    const q = (sql: string, params: readonly unknown[] = []) => query(env.orm.em.fork(), sql, params);
    const admin = await loadAgentPrincipal(q, 1);
    if (!admin) throw new Error("no agent 1");
    adminToken = await issuer.sign(admin, { ttlSec: 3600 });
    serviceToken = await issuer.sign(
      create(PrincipalSchema, {
        actor: { kind: PrincipalKind.SERVICE, username: "t" },
        scopes: ["events:read"],
      }),
      { ttlSec: 3600 },
    );
  });
  let adminToken = "";
  let serviceToken = "";
  afterAll(async () => {
    await proc?.shutdown("test over");
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await deleteStreams(env.bus.jsm, [streamName]);
    await receiver?.close();
    await smtp?.close();
    await env?.close();
  });

  function client(token: string) {
    return createClient(
      NotificationService,
      createGrpcTransport({
        baseUrl: `http://127.0.0.1:${proc.ports.h2c[0]}`,
        interceptors: [
          (next) => async (req) => {
            req.header.set("authorization", `Bearer ${token}`);
            return next(req);
          },
        ],
      }),
    );
  }

  it("serves readiness, delivers osTicket's and ostmesh's changes to webhooks, streams and e-mail", async () => {
    const ready = await fetch(`http://127.0.0.1:${proc.ports.admin}/readyz`);
    expect(ready.status).toBe(200);
    const admin = client(adminToken);
    const { webhook } = await admin.createWebhook({ url: receiver.url, eventTypes: ["ticket.*"] });
    const abort = new AbortController();
    const opened = watchStats.open;
    const live = client(serviceToken).watchEvents({}, { signal: abort.signal })[Symbol.asyncIterator]();
    const first = live.next();
    // The stream sees only events stored after its consumer exists.
    await waitFor(() => watchStats.open > opened || undefined, "the live stream open");

    // osTicket's PHP side creates a ticket (the captured API request, replayed).
    await replayApiCreateTicket(env.orm.em.fork());
    const firstResult = await first;
    const streamed: WatchEventsResponse | undefined = firstResult.done ? undefined : firstResult.value;
    expect(streamed?.item.case).toBe("event");
    const phpEvent = streamed?.item.case === "event" ? streamed.item.value : undefined;
    expect(phpEvent).toMatchObject({
      id: "osticket-32",
      type: "ticket.created",
      origin: EventOrigin.OSTICKET,
    });
    const delivered = await waitFor(async () => {
      const list = (await admin.listDeliveries({ webhookId: webhook?.id ?? 0 })).deliveries;
      return list.find((d) => d.eventId === "osticket-32" && d.status === DeliveryStatus.SUCCEEDED);
    }, "the webhook delivery of the PHP change");
    expect(delivered.attempts).toBe(1);

    // A change made through ostmesh: its event comes through the outbox, and osTicket's alerts are mailed.
    const stream = eventStream({ name: streamName, subjectPrefix: prefix });
    const ostmeshEvent = create(EventSchema, {
      id: "",
      type: EventTypes.TICKET_CREATED,
      origin: EventOrigin.OSTMESH,
      aggregate: { type: AggregateType.TICKET, id: 25 },
      ticket: { ticketId: 25, number: "771291", deptId: 1 },
      payload: {
        case: "ticketCreated",
        value: { ticket: { id: 25 }, message: { id: 31 }, alert: true, autorespond: true },
      },
    });
    const outboxId = await env.orm.em
      .fork()
      .transactional(async (tx) => (await writeOutbox(tx, outboxEventOf(ostmeshEvent, stream))).id);
    const next = await live.next();
    const mesh = next.value?.item.case === "event" ? next.value.item.value : undefined;
    // The outbox id becomes the event id of an ostmesh event written without one.
    expect(mesh).toMatchObject({ id: outboxId, origin: EventOrigin.OSTMESH });
    await waitFor(() => smtp.received.length >= 2 || undefined, "the auto-response and the admin alert");
    expect(smtp.received.map((m) => m.parsed.subject).sort()).toEqual([
      "New Ticket Alert",
      "Support Ticket Opened [#771291]",
    ]);
    await waitFor(async () => {
      const list = (await admin.listDeliveries({ webhookId: webhook?.id ?? 0 })).deliveries;
      return list.find((d) => d.eventId === outboxId && d.status === DeliveryStatus.SUCCEEDED);
    }, "the webhook delivery of the ostmesh change");
    abort.abort();
    await live.return?.();
  });
});
