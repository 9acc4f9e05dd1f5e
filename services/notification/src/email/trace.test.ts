import { create } from "@bufbuild/protobuf";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { type ConsumerHandle, writeOutbox } from "@ostmesh/bus";
import { testDurable } from "@ostmesh/bus/testing/names.ts";
import { installTestTracing } from "@ostmesh/bus/testing/tracing.ts";
import { type EntityManager, execute, query } from "@ostmesh/db";
import { EventTypes } from "@ostmesh/proto";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { EventOrigin } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { AggregateType, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outboxEventOf } from "../capture/capture.ts";
import { createTestEnv, type TestEnv, waitFor } from "../testing/env.ts";
import { replayApiCreateTicket } from "../testing/osticket-php.ts";
import { startSmtpServer, type TestSmtpServer } from "../testing/smtp.ts";
import { startEmailConsumer } from "./consumer.ts";
import { EmailSender, EmailStatus } from "./outbox.ts";
import { smtpTransport } from "./transport.ts";

const { exporter } = installTestTracing();

/**
 * An e-mail's SMTP send continues the trace of the change that queued it: the consumer stores its span's W3C
 * context with the e-mail, and every attempt (the first, refused one, and the retry made later by another
 * sender, while that sender is busy in an unrelated trace) is a CLIENT span below that consumer span.
 */
describe("e-mail sends continue the trace of the change", () => {
  let env: TestEnv;
  let em: EntityManager;
  let smtp: TestSmtpServer;
  let first: EmailSender;
  let consumer: ConsumerHandle;
  const durable = testDurable("emailtrace");

  beforeAll(async () => {
    env = await createTestEnv("emailtrace");
    em = env.orm.em.fork();
    smtp = await startSmtpServer();
    await replayApiCreateTicket(em);
    // Only the auto-response to the requester (trace.user@example.net).
    await execute(em, "UPDATE ost_config SET value = ? WHERE namespace = 'core' AND `key` = ?", [
      "1",
      "ticket_autoresponder",
    ]);
    await execute(em, "UPDATE ost_config SET value = '' WHERE namespace = 'core' AND `key` = ?", [
      "ticket_alert_active",
    ]);
    await execute(em, "UPDATE ost_department SET ticket_auto_response = 1 WHERE id = 1");
    // A retry an hour away: the first sender never makes it; a second one does, once the row is due.
    first = new EmailSender({
      orm: env.orm,
      transport: smtpTransport(smtp.url),
      logger: env.logger,
      pollIntervalMs: 50,
      backoff: { initialMs: 3_600_000, maxMs: 3_600_000 },
    }).start();
    consumer = await startEmailConsumer({
      bus: env.bus,
      orm: env.orm,
      stream: env.stream,
      durable,
      logger: env.logger,
      onQueued: () => first.notify(),
      deliverPolicy: "all",
    });
  });
  afterAll(async () => {
    await consumer?.stop();
    await first?.stop();
    await smtp?.close();
    await env?.close();
  });

  it("puts every attempt below the consumer span, the failed one with status ERROR and an exception event", async () => {
    const tracer = trace.getTracer("test");
    smtp.refuseNext(1, 451, "4.2.2 mailbox <trace.user@example.net> is over quota, try later");
    const event = create(EventSchema, {
      id: `emailtrace-${Date.now()}`,
      type: EventTypes.TICKET_CREATED,
      origin: EventOrigin.OSTMESH,
      actor: { kind: PrincipalKind.API_KEY, id: 1 },
      aggregate: { type: AggregateType.TICKET, id: 25 },
      ticket: { ticketId: 25, number: "771291", deptId: 1, userId: 28 },
      payload: {
        case: "ticketCreated",
        value: { ticket: { id: 25 }, message: { id: 31 }, alert: false, autorespond: true },
      },
    });
    const traceId = await tracer.startActiveSpan("change", async (span) => {
      await em.fork().transactional((tx) => writeOutbox(tx, outboxEventOf(event, env.stream)));
      span.end();
      return span.spanContext().traceId;
    });
    env.relay.notify();

    const retrying = await waitFor(async () => {
      const [row] = await query(em, "SELECT * FROM ostmesh_email WHERE event_id = ?", [event.id]);
      return row && Number(row.status) === EmailStatus.RETRYING ? row : undefined;
    }, "the refused first attempt");
    expect(Number(retrying.attempts)).toBe(1);
    expect(String(retrying.trace_context)).toContain(`"traceparent":"00-${traceId}-`);
    await first.stop();

    // Later, elsewhere: a new sender picks the row up while its own context belongs to another trace.
    await execute(em, "UPDATE ostmesh_email SET next_attempt_at = NOW(6) WHERE id = ?", [retrying.id]);
    const second = new EmailSender({
      orm: env.orm,
      transport: smtpTransport(smtp.url),
      logger: env.logger,
    });
    const unrelated = await tracer.startActiveSpan("unrelated work", async (span) => {
      expect(await second.sendDue()).toBe(1);
      span.end();
      return span.spanContext();
    });
    const [sent] = await query(em, "SELECT status, attempts FROM ostmesh_email WHERE id = ?", [retrying.id]);
    expect(sent).toMatchObject({ status: EmailStatus.SENT, attempts: 2 });
    expect(smtp.received.filter((m) => m.rcptTo.includes("trace.user@example.net"))).toHaveLength(1);

    const spans = exporter.getFinishedSpans();
    const sends = spans
      .filter((s) => s.name === "SMTP send" && s.attributes["ostmesh.email.id"] === Number(retrying.id))
      .sort(
        (a, b) =>
          Number(a.attributes["ostmesh.email.attempt"]) - Number(b.attributes["ostmesh.email.attempt"]),
      );
    expect(sends).toHaveLength(2);
    const consumerSpan = spans.find(
      (s) =>
        s.kind === SpanKind.CONSUMER &&
        s.spanContext().traceId === traceId &&
        s.attributes["messaging.consumer.group.name"] === durable,
    );
    expect(consumerSpan).toBeDefined();
    const port = Number(new URL(smtp.url).port);
    for (const [i, send] of sends.entries()) {
      expect(send.kind).toBe(SpanKind.CLIENT);
      expect(send.spanContext().traceId).toBe(traceId);
      expect(send.spanContext().traceId).not.toBe(unrelated.traceId);
      expect(send.parentSpanContext?.spanId).toBe(consumerSpan?.spanContext().spanId);
      expect(send.attributes).toMatchObject({
        "network.protocol.name": "smtp",
        "server.address": "127.0.0.1",
        "server.port": port,
        "ostmesh.email.template": "ticket.autoresp",
        "ostmesh.email.attempt": i + 1,
        "ostmesh.email.recipient_count": 1,
        "ostmesh.event.id": event.id,
      });
      expect(telemetryText(send)).not.toContain("trace.user@example.net");
    }
    const [failed, retried] = sends;
    expect(failed?.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed?.attributes["error.type"]).toBe("451");
    const exception = failed?.events.find((e) => e.name === "exception");
    expect(String(exception?.attributes?.["exception.message"])).toContain(
      "451 4.2.2 mailbox <REDACTED> is over quota",
    );
    expect(retried?.status.code).toBe(SpanStatusCode.UNSET);
    expect(retried?.events).toEqual([]);
  });
});

/** Everything a span exports besides its ids: name, attributes, status and events. */
function telemetryText(span: ReturnType<typeof exporter.getFinishedSpans>[number]): string {
  return JSON.stringify({
    name: span.name,
    attributes: span.attributes,
    status: span.status,
    events: span.events,
  });
}
