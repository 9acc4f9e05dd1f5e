import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import type { Instrumentation } from "@opentelemetry/instrumentation";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { MySQL2Instrumentation } from "@opentelemetry/instrumentation-mysql2";
import { NodeSDK } from "@opentelemetry/sdk-node";
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  type Span,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace";
import { ATTR_DB_SYSTEM_NAME } from "@opentelemetry/semantic-conventions";
import { maskSqlLiterals } from "./sql-mask.ts";

export interface TelemetryOptions {
  /** `service.name` of every span this process emits. */
  serviceName: string;
  /** OTLP/HTTP collector base URL (OTEL_EXPORTER_OTLP_ENDPOINT); no exporter when undefined. */
  otlpEndpoint?: string | undefined;
  /** Root sampling ratio; parents' decisions are always honoured. */
  traceRatio: number;
  /** Extra span processors (tests add an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
  /** Instrument node:http and mysql2 (needs the loader hook for ESM; see preload.ts). Default true. */
  instrument?: boolean;
}

export interface Telemetry {
  /** Flushes pending spans and stops the SDK. */
  shutdown(): Promise<void>;
}

/** Admin endpoints are polled every few seconds; tracing them would drown the real traffic. */
const UNTRACED_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * Query parameters whose values spans show as REDACTED, in URLs served and requested: the instrumentation's
 * own list (cloud storage signatures) and the credentials a URL may carry, the gateway's signed download
 * links (`?expires=…&signature=…`) first among them.
 */
export const REDACTED_QUERY_PARAMS: readonly string[] = [
  "sig",
  "Signature",
  "AWSAccessKeyId",
  "X-Goog-Signature",
  "X-Amz-Signature",
  "X-Amz-Credential",
  "X-Amz-Security-Token",
  "signature",
  "token",
  "access_token",
  "api_key",
  "apikey",
  "key",
  "password",
];

export function instrumentations(): Instrumentation[] {
  return [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has((req.url ?? "").split("?")[0] ?? ""),
      redactedQueryParams: [...REDACTED_QUERY_PARAMS],
      redactedQueryParamsServer: [...REDACTED_QUERY_PARAMS],
      // The OTLP exporter's own posts are suppressed by the SDK; nothing else outgoing is noise.
    }),
    // db.query.text with its literals replaced by `?` (values passed apart are not formatted in either).
    new MySQL2Instrumentation({ maskStatement: true, maskStatementHook: maskSqlLiterals }),
  ];
}

/**
 * The sampler for spans that would start a trace: a database statement outside any request or event (a
 * poller's read, the outbox relay's lease check) is not recorded, so an idle mesh sends no traces and a
 * busy one no stray single-span ones; everything else is sampled by `ratio`.
 */
export function rootSampler(ratio: number): Sampler {
  const byRatio = new TraceIdRatioBasedSampler(ratio);
  return {
    shouldSample(context, traceId, _spanName, spanKind, attributes) {
      if (spanKind === SpanKind.CLIENT && attributes[ATTR_DB_SYSTEM_NAME] !== undefined)
        return { decision: SamplingDecision.NOT_RECORD };
      return byRatio.shouldSample(context, traceId);
    },
    toString: () => `NoBackgroundStatements{${byRatio.toString()}}`,
  };
}

/**
 * Masks the literals of a failed statement's status message before any exporter sees the span: the server's
 * message may name a value (`Duplicate entry 'reader@example.com' for key 'address'`), and the mysql2
 * instrumentation copies it into the span's status.
 */
export class StatementStatusMasking implements SpanProcessor {
  onStart(): void {}

  onEnding(span: Span): void {
    const { code, message } = span.status;
    if (code !== SpanStatusCode.ERROR || !message || span.attributes[ATTR_DB_SYSTEM_NAME] === undefined)
      return;
    span.setStatus({ code, message: maskSqlLiterals(message) });
  }

  onEnd(): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

// The SDK registers process-wide globals (tracer provider, propagator, context manager), so there is one per
// process; this is where the preload leaves it for the shutdown path to flush.
let active: { sdk: NodeSDK; options: TelemetryOptions } | undefined;

/**
 * Starts the OpenTelemetry NodeSDK: W3C trace context + baggage propagation, parent-based ratio sampling,
 * OTLP/HTTP export when an endpoint is configured (otherwise spans are still created, so trace ids reach logs
 * and downstream calls, but nothing is exported), http and mysql2 instrumentation. Idempotent per process.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  if (active) return { shutdown: shutdownTelemetry };
  // NodeSDK installs a tracer provider only when it has a processor; the masking one is always there, so
  // spans (and the trace ids logs and downstream calls carry) exist without an exporter too.
  const spanProcessors: SpanProcessor[] = [new StatementStatusMasking(), ...(options.spanProcessors ?? [])];
  if (options.otlpEndpoint) {
    const url = `${options.otlpEndpoint.replace(/\/+$/, "")}/v1/traces`;
    spanProcessors.push(new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }) }));
  }
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    sampler: new ParentBasedSampler({ root: rootSampler(options.traceRatio) }),
    spanProcessors,
    textMapPropagator: new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
    instrumentations: options.instrument === false ? [] : instrumentations(),
    // Metrics are served by prom-client on /metrics; logs go to stdout. Empty lists keep the SDK from
    // auto-configuring OTLP metric and log exporters from the environment.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  active = { sdk, options };
  return { shutdown: shutdownTelemetry };
}

export function telemetryStarted(): boolean {
  return active !== undefined;
}

/** Flushes and stops the process's SDK, if one was started. Safe to call more than once. */
export async function shutdownTelemetry(): Promise<void> {
  const current = active;
  active = undefined;
  await current?.sdk.shutdown();
}
