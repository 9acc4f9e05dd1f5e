import { create } from "@bufbuild/protobuf";
import { trace } from "@opentelemetry/api";
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
    receiver = await startReceiver();
    deliverer = new WebhookDeliverer({
      orm: env.orm,
      logger: env.logger,
      policy: targetPolicy({ allowedCidrs: ["127.0.0.1/32"] }),
      pollIntervalMs: 50,
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

  it("sends traceparent of the same trace: change -> relay -> consumer -> webhook request", async () => {
    const tracer = trace.getTracer("test");
    const traceId = await tracer.startActiveSpan("change", async (span) => {
      const event = create(EventSchema, {
        id: "traced-1",
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
    const request = await waitFor(
      () => receiver.received.find((r) => r.headers["webhook-id"] === "traced-1"),
      "the delivery",
    );
    expect(String(request.headers.traceparent)).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-0[01]$`));
    const spans = await waitFor(() => {
      const list = exporter.getFinishedSpans();
      return list.some((s) => s.name === "webhook ticket.created") ? list : undefined;
    }, "the webhook span");
    const webhook = spans.find((s) => s.name === "webhook ticket.created");
    const consumer = spans.find((s) => s.name.startsWith("process ") && s.spanContext().traceId === traceId);
    expect(webhook?.spanContext().traceId).toBe(traceId);
    expect(consumer).toBeDefined();
    expect(webhook?.parentSpanContext?.spanId).toBe(consumer?.spanContext().spanId);
    expect(webhook?.attributes["http.response.status_code"]).toBe(200);
  });
});
