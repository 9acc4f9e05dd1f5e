import { Match, type MsgHdrs, headers as natsHeaders } from "@nats-io/transport-node";
import {
  type Context,
  context,
  propagation,
  type TextMapGetter,
  type Tracer,
  trace,
} from "@opentelemetry/api";

export const TRACER_NAME = "@ostmesh/bus";

export function busTracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

/**
 * The active W3C trace context (traceparent, tracestate, and whatever else the globally configured
 * propagators carry) as plain headers. Empty when no propagator is registered or no span is active.
 */
export function traceHeaders(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/** Reads propagation fields from NATS message headers, case-insensitively. */
export const natsHeaderGetter: TextMapGetter<MsgHdrs | undefined> = {
  keys(carrier) {
    return carrier ? carrier.keys() : [];
  },
  get(carrier, key) {
    return carrier?.has(key, Match.IgnoreCase) ? carrier.get(key, Match.IgnoreCase) : undefined;
  },
};

/** The trace context carried by a message's headers (the root context when there is none). */
export function extractTraceContext(headers: MsgHdrs | undefined, base: Context = context.active()): Context {
  return propagation.extract(base, headers, natsHeaderGetter);
}

/** NATS header names may not contain separators or control characters; values may not break lines. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Why a header cannot be sent, or undefined when it can. */
export function headerProblem(name: string, value: unknown): string | undefined {
  if (!HEADER_NAME.test(name)) return `invalid header name ${JSON.stringify(name)}`;
  if (/^nats-/i.test(name)) return `header ${name} is reserved for NATS`;
  if (typeof value !== "string" || /[\r\n]/.test(value))
    return `invalid value for header ${name}: must be a single-line string`;
  return undefined;
}

export function assertValidHeaders(values: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(values)) {
    const problem = headerProblem(name, value);
    if (problem) throw new Error(problem);
  }
}

/** Builds NATS headers from a plain object. */
export function toNatsHeaders(values: Readonly<Record<string, string>>): MsgHdrs {
  const h = natsHeaders();
  for (const [name, value] of Object.entries(values)) h.set(name, value);
  return h;
}

/** NATS headers as a plain object (first value of each header). */
export function fromNatsHeaders(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  for (const key of h.keys()) out[key] = h.get(key);
  return out;
}
