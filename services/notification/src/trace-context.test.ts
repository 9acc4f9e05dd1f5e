import { context, propagation, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { installTestTracing } from "@ostmesh/bus/testing/tracing.ts";
import { describe, expect, it } from "vitest";
import { restoredTraceContext, storedTraceContext, TRACE_CONTEXT_MAX_LENGTH } from "./trace-context.ts";

installTestTracing();
// As the processes propagate: trace context and baggage.
propagation.disable();
propagation.setGlobalPropagator(
  new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
);

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID = "00f067aa0ba902b7";

function remote(headers: Record<string, string>) {
  return propagation.extract(ROOT_CONTEXT, headers);
}

describe("the trace context stored with a queued delivery", () => {
  it("stores the active span's traceparent and tracestate and restores the same parent", () => {
    const stored = storedTraceContext(
      remote({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-01`, tracestate: "vendor=abc" }),
    );
    expect(JSON.parse(String(stored))).toEqual({
      traceparent: `00-${TRACE_ID}-${SPAN_ID}-01`,
      tracestate: "vendor=abc",
    });
    const parent = trace.getSpanContext(restoredTraceContext(stored));
    expect(parent).toMatchObject({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, isRemote: true });
    expect(parent?.traceState?.get("vendor")).toBe("abc");
  });

  it("keeps only traceparent when the headers (here a large baggage) do not fit the column", () => {
    const baggage = Array.from({ length: 30 }, (_, i) => `k${i}=${"x".repeat(60)}`).join(",");
    const ctx = remote({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-01`, tracestate: "vendor=abc", baggage });
    expect(propagation.getBaggage(ctx)?.getAllEntries()).toHaveLength(30);
    const stored = storedTraceContext(ctx);
    expect(stored).toBe(JSON.stringify({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` }));
    expect(String(stored).length).toBeLessThanOrEqual(TRACE_CONTEXT_MAX_LENGTH);
  });

  it("stores nothing outside a trace, and restores a new root from nothing or garbage", () => {
    expect(storedTraceContext(ROOT_CONTEXT)).toBeNull();
    expect(storedTraceContext(context.active())).toBeNull();
    for (const stored of [null, "", "not json", "[1,2]", '{"traceparent":"00-zz-zz-01"}'])
      expect(trace.getSpanContext(restoredTraceContext(stored))).toBeUndefined();
  });
});
