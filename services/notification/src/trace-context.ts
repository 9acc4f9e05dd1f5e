import { type Context, context, propagation, ROOT_CONTEXT } from "@opentelemetry/api";
import { suppressTracing } from "@opentelemetry/core";
import { traceHeaders } from "@ostmesh/bus";

/** Size of the trace_context columns of ostmesh_email and ostmesh_webhook_delivery. */
export const TRACE_CONTEXT_MAX_LENGTH = 1024;

/**
 * The active span's W3C trace headers (traceparent, tracestate, baggage) as a queued delivery stores them
 * (JSON), so the attempt that sends it later, maybe in another replica, continues the trace. Null outside a
 * trace. When the headers do not fit the column, only traceparent is kept: the trace still joins up.
 */
export function storedTraceContext(ctx: Context = context.active()): string | null {
  const headers = traceHeaders(ctx);
  if (!headers.traceparent) return null;
  const json = JSON.stringify(headers);
  return json.length <= TRACE_CONTEXT_MAX_LENGTH
    ? json
    : JSON.stringify({ traceparent: headers.traceparent });
}

/**
 * The context a delivery attempt starts its span in: the stored trace's, or a new root when nothing (or
 * nothing readable) was stored. Never the context of whatever claimed the row.
 */
export function restoredTraceContext(stored: unknown): Context {
  if (typeof stored !== "string" || stored === "") return ROOT_CONTEXT;
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored);
  } catch {
    return ROOT_CONTEXT;
  }
  const carrier: Record<string, string> = {};
  if (parsed && typeof parsed === "object")
    for (const [key, value] of Object.entries(parsed)) if (typeof value === "string") carrier[key] = value;
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/**
 * Runs `fn` with node:http's automatic instrumentation (and any other) suppressed: a delivery span that is
 * itself the CLIENT span of its request must not get a second, nested CLIENT span for the same request, nor
 * have the traceparent it sent replaced by that span's.
 */
export function withoutAutoInstrumentation<T>(fn: () => T): T {
  return context.with(suppressTracing(context.active()), fn);
}
