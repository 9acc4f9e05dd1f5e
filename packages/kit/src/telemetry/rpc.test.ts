import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
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
import { shutdownTelemetry, startTelemetry } from "./sdk.ts";

const SAY = "ostmesh.kit.testing.v1.EchoService/Say";
const RELAY = "ostmesh.kit.testing.v1.EchoService/Relay";

/**
 * Two servers on h2c: "front" hosts the ticket service, whose Relay calls Say on "back" (the identity service)
 * over the network. One trace must cross both.
 */
describe("trace propagation across two h2c servers", () => {
  const exporter = new InMemorySpanExporter();
  let back: ServiceProcess;
  let front: ServiceProcess;
  let backLogs: CapturedLogs;
  const backSeen: EchoObservations = {};

  beforeAll(async () => {
    startTelemetry({
      serviceName: "ostmesh-kit-test",
      traceRatio: 1,
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
      instrument: false,
    });
    backLogs = captureLogs("back");
    back = await startServiceProcess({
      name: "back",
      config: testConfig(),
      logger: backLogs.logger,
      services: [
        { name: "identity", register: (router) => void router.service(EchoService, echoImpl({}, backSeen)) },
      ],
      listen: { h2c: [0], admin: 0 },
      handleSignals: false,
    });
    front = await startServiceProcess({
      name: "front",
      config: testConfig({ IDENTITY_URL: `http://127.0.0.1:${back.ports.h2c[0]}` }),
      logger: captureLogs("front").logger,
      services: [
        {
          name: "ticket",
          register: (router, deps) =>
            void router.service(EchoService, echoImpl({ topology: deps.topology, relayTo: "identity" })),
        },
      ],
      listen: { h2c: [0], admin: 0 },
      handleSignals: false,
    });
  });

  afterAll(async () => {
    await front?.shutdown();
    await back?.shutdown();
    await shutdownTelemetry();
  });

  beforeEach(() => exporter.reset());

  // The test calls like any mesh caller: with kit's client interceptors (trace context, deadline).
  const client = () =>
    createClient(
      EchoService,
      createGrpcTransport({
        baseUrl: `http://127.0.0.1:${front.ports.h2c[0]}`,
        interceptors: clientInterceptors(),
      }),
    );
  const named = (spans: ReadableSpan[], name: string, kind: SpanKind) => {
    const found = spans.filter((s) => s.name === name && s.kind === kind);
    expect(found, `${SpanKind[kind]} span ${name}`).toHaveLength(1);
    const span = found[0];
    if (!span) throw new Error("unreachable");
    return span;
  };

  it("continues the caller's trace through both servers", async () => {
    const tracer = trace.getTracer("test");
    const answer = await tracer.startActiveSpan("test-root", async (root) => {
      try {
        return await client().relay({ value: "hello" });
      } finally {
        root.end();
      }
    });
    expect(answer.value).toBe("relayed: echo: hello");

    const spans = exporter.getFinishedSpans();
    const root = named(spans, "test-root", SpanKind.INTERNAL);
    const frontServer = named(spans, RELAY, SpanKind.SERVER);
    const frontClient = named(spans, SAY, SpanKind.CLIENT);
    const backServer = named(spans, SAY, SpanKind.SERVER);
    const traceId = root.spanContext().traceId;
    for (const span of [frontServer, frontClient, backServer])
      expect(span.spanContext().traceId).toBe(traceId);

    // test-root -> CLIENT (test) -> SERVER (front) -> CLIENT (front) -> SERVER (back)
    const testClient = named(spans, RELAY, SpanKind.CLIENT);
    expect(testClient.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(frontServer.parentSpanContext?.spanId).toBe(testClient.spanContext().spanId);
    expect(frontClient.parentSpanContext?.spanId).toBe(frontServer.spanContext().spanId);
    expect(backServer.parentSpanContext?.spanId).toBe(frontClient.spanContext().spanId);
    expect(backServer.parentSpanContext?.isRemote).toBe(true);

    expect(backServer.attributes).toMatchObject({
      "rpc.system": "grpc",
      "rpc.service": "ostmesh.kit.testing.v1.EchoService",
      "rpc.method": "Say",
      "rpc.grpc.status_code": 0,
    });
    expect(backServer.status.code).toBe(SpanStatusCode.UNSET);
    expect(backSeen.lastSay?.traceparent).toMatch(
      new RegExp(`^00-${traceId}-${frontClient.spanContext().spanId}-01$`),
    );

    // The back server's log line for the call carries the same trace.
    const line = backLogs.entries().find((e) => e.msg === "rpc served" && e.rpc === SAY);
    expect(line).toMatchObject({ trace_id: traceId, span_id: backServer.spanContext().spanId });
  });

  it("records the error code on the spans of a failed call", async () => {
    const error = await client()
      .relay({ value: "boom" })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    expect(error?.code).toBe(Code.Internal);
    const spans = exporter.getFinishedSpans();
    const backServer = named(spans, SAY, SpanKind.SERVER);
    expect(backServer.attributes["rpc.grpc.status_code"]).toBe(Code.Internal);
    expect(backServer.status.code).toBe(SpanStatusCode.ERROR);
    const frontClient = named(spans, SAY, SpanKind.CLIENT);
    expect(frontClient.status.code).toBe(SpanStatusCode.ERROR);
    expect(frontClient.spanContext().traceId).toBe(backServer.spanContext().traceId);
  });

  it("propagates what is left of the caller's deadline to the next hop", async () => {
    await client().relay({ value: "deadline" }, { timeoutMs: 2000 });
    const timeoutMs = backSeen.lastSay?.timeoutMs;
    expect(timeoutMs).toBeGreaterThan(1000);
    expect(timeoutMs).toBeLessThanOrEqual(2000);
    expect(backSeen.lastSay?.deadline).toBeGreaterThan(Date.now());
  });

  it("fails the next hop with DEADLINE_EXCEEDED when the caller runs out of time", async () => {
    const started = performance.now();
    const error = await client()
      .relay({ value: "sleep:3000" }, { timeoutMs: 300 })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    expect(error?.code).toBe(Code.DeadlineExceeded);
    expect(performance.now() - started).toBeLessThan(1500);
    // The back server got the shortened deadline, not its 30 s default.
    expect(backSeen.lastSay?.timeoutMs).toBeLessThanOrEqual(300);
  });

  it("names the connect protocol on spans of Connect calls", async () => {
    const connectClient = createClient(EchoService, front.topology.transport("ticket"));
    await connectClient.say({ value: "in-process" });
    const server = named(exporter.getFinishedSpans(), SAY, SpanKind.SERVER);
    expect(server.attributes["rpc.system"]).toBe("connect_rpc");
    expect(server.attributes).not.toHaveProperty("rpc.grpc.status_code");
  });
});
