import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SamplingDecision, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, expect, it } from "vitest";
import { clientInterceptors } from "../rpc/topology.ts";
import { type ServiceProcess, startServiceProcess } from "../server/process.ts";
import { EchoService } from "../testing/echo.ts";
import {
  type CapturedLogs,
  captureLogs,
  type EchoObservations,
  echoImpl,
  testConfig,
} from "../testing/harness.ts";
import { rootSampler, shutdownTelemetry, startTelemetry } from "./sdk.ts";

const exporter = new InMemorySpanExporter();
const seen: EchoObservations = {};
let proc: ServiceProcess;
let logs: CapturedLogs;

beforeAll(async () => {
  // Ratio 0: no new trace is sampled, but an incoming sampled trace still is (parent-based).
  startTelemetry({
    serviceName: "ostmesh-sampling-test",
    traceRatio: 0,
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
    instrument: false,
  });
  logs = captureLogs();
  proc = await startServiceProcess({
    name: "sampling",
    config: testConfig(),
    logger: logs.logger,
    services: [
      { name: "ticket", register: (router) => void router.service(EchoService, echoImpl({}, seen)) },
    ],
    listen: { h2c: [0], admin: 0 },
    handleSignals: false,
  });
});

afterAll(async () => {
  await proc?.shutdown();
  await shutdownTelemetry();
});

const client = () =>
  createClient(
    EchoService,
    createGrpcTransport({
      baseUrl: `http://127.0.0.1:${proc.ports.h2c[0]}`,
      interceptors: clientInterceptors(),
    }),
  );

it("exports nothing for unsampled traces but still propagates their context to logs and the next hop", async () => {
  exporter.reset();
  const traceId = await trace.getTracer("test").startActiveSpan("root", async (root) => {
    await client().say({ value: "unsampled" });
    root.end();
    return root.spanContext().traceId;
  });
  expect(exporter.getFinishedSpans()).toEqual([]);
  expect(seen.lastSay?.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
  const line = logs
    .entries()
    .find((e) => e.msg === "rpc served" && e.rpc === "ostmesh.kit.testing.v1.EchoService/Say");
  expect(line?.trace_id).toBe(traceId);
});

it("honours a caller's sampled decision", async () => {
  exporter.reset();
  // An outside caller (no kit interceptors) that sampled its trace.
  const outside = createClient(
    EchoService,
    createGrpcTransport({ baseUrl: `http://127.0.0.1:${proc.ports.h2c[0]}` }),
  );
  const res = await outside.say(
    { value: "sampled upstream" },
    { headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } },
  );
  expect(res.value).toBe("echo: sampled upstream");
  const server = exporter.getFinishedSpans().find((s) => s.name === "ostmesh.kit.testing.v1.EchoService/Say");
  expect(server?.spanContext().traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
  expect(server?.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
});

it("starts no trace for a database statement outside a request, and samples other roots by the ratio", () => {
  const statement = { "db.system.name": "mysql", "db.query.text": "SELECT ?" };
  const id = "4bf92f3577b34da6a3ce929d0e0e4736";
  const always = rootSampler(1);
  expect(always.shouldSample(ROOT_CONTEXT, id, "SELECT", SpanKind.CLIENT, statement, []).decision).toBe(
    SamplingDecision.NOT_RECORD,
  );
  for (const [name, kind] of [
    ["POST", SpanKind.SERVER],
    ["POST", SpanKind.CLIENT],
    ["send ostmesh.ticket.created", SpanKind.PRODUCER],
  ] as const)
    expect(always.shouldSample(ROOT_CONTEXT, id, name, kind, {}, []).decision).toBe(
      SamplingDecision.RECORD_AND_SAMPLED,
    );
  expect(rootSampler(0).shouldSample(ROOT_CONTEXT, id, "POST", SpanKind.SERVER, {}, []).decision).toBe(
    SamplingDecision.NOT_RECORD,
  );
});

it("masks the literals of a failed statement's status message, and leaves other spans' messages", async () => {
  exporter.reset();
  const tracer = trace.getTracer("test");
  // Inside a caller's sampled trace (this file's ratio is 0).
  const sampled = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    spanId: "00f067aa0ba902b7",
    traceFlags: 1,
    isRemote: true,
  });
  await tracer.startActiveSpan("request", {}, sampled, async (request) => {
    const statement = tracer.startSpan("INSERT", {
      kind: SpanKind.CLIENT,
      attributes: {
        "db.system.name": "mysql",
        "db.query.text": "INSERT INTO ost_user_email (address) VALUES (?)",
      },
    });
    statement.setStatus({
      code: SpanStatusCode.ERROR,
      message: "Duplicate entry 'reader@example.com' for key 'address'",
    });
    statement.end();
    const call = tracer.startSpan("osticket.ticket.v1.TicketService/GetTicket", { kind: SpanKind.CLIENT });
    call.setStatus({ code: SpanStatusCode.ERROR, message: "ticket 42 not found" });
    call.end();
    request.end();
  });
  const spans = exporter.getFinishedSpans();
  expect(spans.find((s) => s.name === "INSERT")?.status).toEqual({
    code: SpanStatusCode.ERROR,
    message: "Duplicate entry ? for key ?",
  });
  expect(spans.find((s) => s.name.endsWith("/GetTicket"))?.status.message).toBe("ticket 42 not found");
});
