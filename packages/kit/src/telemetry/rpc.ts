import { Code, type Interceptor } from "@connectrpc/connect";
import {
  type Attributes,
  context,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from "@opentelemetry/api";
import { codeName, errorCode, observeIterable, rpcProtocol } from "../rpc/call.ts";

const TRACER = "@ostmesh/kit/rpc";

const headerGetter: TextMapGetter<Headers> = {
  keys: (carrier) => [...carrier.keys()],
  get: (carrier, key) => carrier.get(key) ?? undefined,
};

const headerSetter: TextMapSetter<Headers> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

/** Codes that mean the server failed (OTel's RPC conventions); the others are the caller's problem. */
const SERVER_FAULTS = new Set([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

function rpcAttributes(
  serviceName: string,
  methodName: string,
  protocol: ReturnType<typeof rpcProtocol>,
): Attributes {
  return {
    "rpc.system": protocol === "grpc" ? "grpc" : "connect_rpc",
    "rpc.service": serviceName,
    "rpc.method": methodName,
  };
}

function finishSpan(
  span: Span,
  protocol: ReturnType<typeof rpcProtocol>,
  error: unknown,
  server: boolean,
): void {
  if (error === undefined) {
    if (protocol === "grpc") span.setAttribute("rpc.grpc.status_code", 0);
    span.end();
    return;
  }
  const code = errorCode(error);
  if (protocol === "grpc") span.setAttribute("rpc.grpc.status_code", code);
  else span.setAttribute("rpc.connect_rpc.error_code", codeName(code));
  if (!server || SERVER_FAULTS.has(code)) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: codeName(code) });
  }
  if (error instanceof Error) span.recordException(error);
  span.end();
}

/**
 * Server side: continues the caller's trace (W3C traceparent/tracestate and baggage from the request
 * headers) and runs the handler in a SERVER span named `<package.Service>/<Method>`. Node's http
 * instrumentation does not see HTTP/2, so this is where RPC spans come from.
 */
export function serverTracingInterceptor(): Interceptor {
  const tracer = trace.getTracer(TRACER);
  return (next) => async (req) => {
    const protocol = rpcProtocol(req.header);
    const parent = propagation.extract(context.active(), req.header, headerGetter);
    const span = tracer.startSpan(
      `${req.service.typeName}/${req.method.name}`,
      { kind: SpanKind.SERVER, attributes: rpcAttributes(req.service.typeName, req.method.name, protocol) },
      parent,
    );
    const active = trace.setSpan(parent, span);
    try {
      const res = await context.with(active, () => next(req));
      if (!res.stream) {
        finishSpan(span, protocol, undefined, true);
        return res;
      }
      return {
        ...res,
        message: observeIterable(
          res.message,
          (error) => finishSpan(span, protocol, error, true),
          (step) => context.with(active, step),
        ),
      };
    } catch (error) {
      finishSpan(span, protocol, error, true);
      throw error;
    }
  };
}

/** Client side: a CLIENT span per call, its context injected into the request headers. */
export function clientTracingInterceptor(): Interceptor {
  const tracer = trace.getTracer(TRACER);
  return (next) => async (req) => {
    const protocol = rpcProtocol(req.header);
    const span = tracer.startSpan(`${req.service.typeName}/${req.method.name}`, {
      kind: SpanKind.CLIENT,
      attributes: rpcAttributes(req.service.typeName, req.method.name, protocol),
    });
    const active = trace.setSpan(context.active(), span);
    propagation.inject(active, req.header, headerSetter);
    try {
      const res = await context.with(active, () => next(req));
      if (!res.stream) {
        finishSpan(span, protocol, undefined, false);
        return res;
      }
      return {
        ...res,
        message: observeIterable(res.message, (error) => finishSpan(span, protocol, error, false)),
      };
    } catch (error) {
      finishSpan(span, protocol, error, false);
      throw error;
    }
  };
}
