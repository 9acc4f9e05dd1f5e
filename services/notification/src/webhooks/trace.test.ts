import { create } from "@bufbuild/protobuf";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { writeOutbox } from "@ostmesh/bus";
import { testDurable } from "@ostmesh/bus/testing/names.ts";
import { installTestTracing } from "@ostmesh/bus/testing/tracing.ts";
import { EventTypes } from "@ostmesh/proto";
import { EventOrigin } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { AggregateType, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outboxEventOf } from "../capture/capture.ts";
import { createTestEnv, type TestEnv, waitFor } from "../testing/env.ts";
import { startReceiver, type TestReceiver } from "../testing/receiver.ts";
import { WebhookDeliverer } from "./deliverer.ts";
import { startWebhookFanout } from "./fanout.ts";
import { generateSecret } from "./signing.ts";
import { targetPolicy } from "./ssrf.ts";
import { insertWebhook } from "./store.ts";

const { exporter } = installTestTracing();

describe("webhook deliveries continue the trace of the change", () => {
  let env: TestEnv;
  let receiver: TestReceiver;
  let deliverer: WebhookDeliverer;
  let stopFanout: () => Promise<void>;

  beforeAll(async () => {
    env = await createTestEnv("whtrace", { from: "empty" });
    // A token in the query string, as many webhook URLs carry one: it must not reach the span.
    receiver = await startReceiver("/hook?token=s3cret-token");
    deliverer = new WebhookDeliverer({
      orm: env.orm,
      logger: env.logger,
      policy: targetPolicy({ allowedCidrs: ["127.0.0.1/32"] }),
      pollIntervalMs: 50,
      backoff: { initialMs: 50, maxMs: 100 },
    }).start();
    const fanout = await startWebhookFanout({
      bus: env.bus,
      orm: env.orm,
      stream: env.stream,
      durable: testDurable("whtrace"),
      logger: env.logger,
      onQueued: () => deliverer.notify(),
      deliverPolicy: "all",
    });
    stopFanout = () => fanout.stop();
    await env.orm.em.fork().transactional((tx) =>
      insertWebhook(tx, {
        url: receiver.url,
        eventTypes: ["*"],
        filter: { deptIds: [], topicIds: [], origin: EventOrigin.UNSPECIFIED },
        description: "",
        secret: generateSecret(),
      }),
    );
  });
  afterAll(async () => {
    await stopFanout?.();
    await deliverer?.stop();
    await receiver?.close();
    await env?.close();
  });

  /** Writes a ticket.created event with id `eventId` inside a new trace; returns the trace id. */
  async function change(eventId: string): Promise<string> {
    const traceId = await trace.getTracer("test").startActiveSpan("change", async (span) => {
      const event = create(EventSchema, {
        id: eventId,
        type: EventTypes.TICKET_CREATED,
        origin: EventOrigin.OSTMESH,
        aggregate: { type: AggregateType.TICKET, id: 7 },
        ticket: { ticketId: 7, deptId: 1 },
        payload: { case: "ticketCreated", value: { ticket: { id: 7 } } },
      });
      await env.orm.em.fork().transactional((tx) => writeOutbox(tx, outboxEventOf(event, env.stream)));
      span.end();
      return span.spanContext().traceId;
    });
    env.relay.notify();
    return traceId;
  }

  it("sends traceparent of the same trace: change -> relay -> consumer -> webhook request", async () => {
    const traceId = await change("traced-1");
    const request = await waitFor(
      () => receiver.received.find((r) => r.headers["webhook-id"] === "traced-1"),
      "the delivery",
    );
    expect(String(request.headers.traceparent)).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-0[01]$`));
    const isDelivery = (s: { name: string; kind: SpanKind; attributes: Record<string, unknown> }) =>
      s.name === "POST" && s.kind === SpanKind.CLIENT && s.attributes["ostmesh.event.id"] === "traced-1";
    const spans = await waitFor(() => {
      const list = exporter.getFinishedSpans();
      return list.some(isDelivery) ? list : undefined;
    }, "the webhook span");
    const webhook = spans.find(isDelivery);
    const consumer = spans.find((s) => s.name.startsWith("process ") && s.spanContext().traceId === traceId);
    expect(webhook?.spanContext().traceId).toBe(traceId);
    expect(consumer).toBeDefined();
    expect(webhook?.parentSpanContext?.spanId).toBe(consumer?.spanContext().spanId);
    // The receiver's parent is the delivery span itself.
    expect(String(request.headers.traceparent).split("-")[2]).toBe(webhook?.spanContext().spanId);
    expect(webhook?.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.response.status_code": 200,
      "url.full": `http://127.0.0.1:${receiver.port}/hook?token=REDACTED`,
      "server.address": "127.0.0.1",
      "server.port": receiver.port,
      "ostmesh.event.type": "ticket.created",
      "ostmesh.webhook.attempt": 1,
    });
    expect(webhook?.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(JSON.stringify(webhook?.attributes)).not.toContain("s3cret");
  });

  it("keeps a retried delivery in the same trace, the failed attempt with status ERROR and error.type", async () => {
    receiver.reply(500);
    const traceId = await change("traced-2");
    const requests = await waitFor(() => {
      const list = receiver.received.filter((r) => r.headers["webhook-id"] === "traced-2");
      return list.length >= 2 ? list : undefined;
    }, "the failed attempt and its retry");
    const attempts = await waitFor(() => {
      const list = exporter
        .getFinishedSpans()
        .filter((s) => s.kind === SpanKind.CLIENT && s.attributes["ostmesh.event.id"] === "traced-2");
      return list.length >= 2 ? list : undefined;
    }, "both attempt spans");
    attempts.sort(
      (a, b) =>
        Number(a.attributes["ostmesh.webhook.attempt"]) - Number(b.attributes["ostmesh.webhook.attempt"]),
    );
    const [failed, retried] = attempts;
    expect(failed?.attributes).toMatchObject({
      "ostmesh.webhook.attempt": 1,
      "http.response.status_code": 500,
      "error.type": "500",
    });
    expect(failed?.status.code).toBe(SpanStatusCode.ERROR);
    expect(retried?.attributes).toMatchObject({
      "ostmesh.webhook.attempt": 2,
      "http.response.status_code": 200,
    });
    expect(retried?.attributes["error.type"]).toBeUndefined();
    expect(retried?.status.code).not.toBe(SpanStatusCode.ERROR);
    for (const [i, span] of attempts.entries()) {
      expect(span.spanContext().traceId).toBe(traceId);
      expect(span.parentSpanContext?.spanId).toBe(failed?.parentSpanContext?.spanId);
      expect(String(requests[i]?.headers.traceparent)).toBe(`00-${traceId}-${span.spanContext().spanId}-01`);
    }
  });
});
