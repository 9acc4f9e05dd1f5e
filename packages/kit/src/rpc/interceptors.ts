import {
  Code,
  ConnectError,
  createContextKey,
  type HandlerContext,
  type Interceptor,
} from "@connectrpc/connect";
import type { Logger } from "pino";
import { pino } from "pino";
import type { ProcessMetrics } from "../metrics/metrics.ts";
import {
  codeName,
  currentCall,
  errorCode,
  observeIterable,
  requestedTimeoutMs,
  rpcProtocol,
  runInCall,
  setRequestTimeout,
} from "./call.ts";
import { transientError } from "./transient.ts";

/** The request's logger (carries the RPC name and, through the mixin, the trace ids). */
export const rpcLoggerKey = createContextKey<Logger>(pino({ enabled: false }), { description: "rpc logger" });
/** Absolute deadline of the request (epoch ms): the client's, or the default for unary calls. */
export const deadlineKey = createContextKey<number | undefined>(undefined, { description: "rpc deadline" });

/** The logger of the RPC being handled; handlers log through this. */
export function rpcLogger(ctx: Pick<HandlerContext, "values">): Logger {
  return ctx.values.get(rpcLoggerKey);
}

/** Services polled by probes every few seconds; their calls are logged at debug level only. */
const QUIET_SERVICES = new Set(["grpc.health.v1.Health"]);
const SERVER_FAULTS = new Set([Code.Unknown, Code.Internal, Code.DataLoss, Code.Unimplemented]);
/** Failures a retry may cure; logged with their cause, as warnings. */
const TRANSIENT = new Set([Code.Unavailable, Code.Aborted]);

/**
 * One log line and the RED metrics per RPC: requests by service/method/code, the latency histogram and
 * the in-flight gauge. Streams count when they end. Sits inside tracing, so its lines carry trace ids.
 */
export function observeInterceptor(metrics: ProcessMetrics, logger: Logger): Interceptor {
  return (next) => async (req) => {
    const service = req.service.typeName;
    const method = req.method.name;
    const log = logger.child({ rpc: `${service}/${method}` });
    req.contextValues.set(rpcLoggerKey, log);
    const started = performance.now();
    metrics.rpcInFlight.inc({ service, method });
    const finish = (error: unknown) => {
      // A stream the client reset (HTTP/2 RST_STREAM, a dropped HTTP/1.1 connection) aborts the request with
      // a transport error: nothing went wrong here, and no one hears the answer. (The deadline and shutdown
      // abort the same signal with their own codes.)
      const abandoned =
        error !== undefined &&
        req.signal.aborted &&
        error === req.signal.reason &&
        (errorCode(error) === Code.Canceled || SERVER_FAULTS.has(errorCode(error)));
      const code = abandoned
        ? codeName(Code.Canceled)
        : error === undefined
          ? "ok"
          : codeName(errorCode(error));
      const seconds = (performance.now() - started) / 1000;
      metrics.rpcInFlight.dec({ service, method });
      metrics.rpcRequests.inc({ service, method, code });
      metrics.rpcDuration.observe({ service, method, code }, seconds);
      const fields = {
        code,
        duration_ms: Math.round(seconds * 10_000) / 10,
        protocol: rpcProtocol(req.header),
      };
      if (abandoned) {
        log.info(
          { ...fields, reason: error instanceof Error ? error.message : String(error) },
          "rpc abandoned by the client",
        );
      } else if (error !== undefined && SERVER_FAULTS.has(errorCode(error))) {
        log.error({ ...fields, err: causeOf(error) }, "rpc failed");
      } else if (error !== undefined && TRANSIENT.has(errorCode(error))) {
        log.warn({ ...fields, err: causeOf(error) }, "rpc failed");
      } else if (QUIET_SERVICES.has(service)) {
        log.debug(fields, "rpc served");
      } else {
        log.info(fields, "rpc served");
      }
    };
    try {
      const res = await next(req);
      if (!res.stream) {
        finish(undefined);
        return res;
      }
      return { ...res, message: observeIterable(res.message, finish) };
    } catch (error) {
      finish(error);
      throw error;
    }
  };
}

/** What went wrong underneath a mapped error (its cause), else the error itself. */
function causeOf(error: unknown): unknown {
  return error instanceof ConnectError && error.cause !== undefined ? error.cause : error;
}

/**
 * Errors leave the server as ConnectErrors with a code. A ConnectError thrown on purpose passes unchanged;
 * a failure a retry can cure (the database unreachable, a deadlock) becomes UNAVAILABLE or ABORTED
 * (transient.ts); anything else (a bug, a corrupt row) becomes Code.Internal with a generic message. The
 * original's text and stack stay in the server's log (kept as `cause`, which never goes on the wire).
 */
export function errorMappingInterceptor(): Interceptor {
  return (next) => async (req) => {
    try {
      const res = await next(req);
      if (!res.stream) return res;
      return { ...res, message: mapIterableErrors(res.message, (error) => publicError(error, req.signal)) };
    } catch (error) {
      throw publicError(error, req.signal);
    }
  };
}

export function publicError(error: unknown, signal?: AbortSignal): ConnectError {
  if (error instanceof ConnectError) return error;
  if (signal?.aborted) {
    const reason: unknown = signal.reason;
    if (reason instanceof ConnectError) return reason;
    return new ConnectError("the request was canceled", Code.Canceled, undefined, undefined, error);
  }
  return (
    transientError(error) ?? new ConnectError("internal error", Code.Internal, undefined, undefined, error)
  );
}

async function* mapIterableErrors<T>(
  source: AsyncIterable<T>,
  map: (error: unknown) => unknown,
): AsyncIterable<T> {
  try {
    yield* source;
  } catch (error) {
    throw map(error);
  }
}

function abortError(signal: AbortSignal): ConnectError {
  const reason: unknown = signal.reason;
  return reason instanceof ConnectError
    ? reason
    : new ConnectError("the request was canceled", Code.Canceled);
}

/** Settles with `work`, or rejects with the signal's reason as soon as it aborts. */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Server deadlines. Connect already aborts the handler's signal at the deadline the client sent
 * (grpc-timeout / connect-timeout-ms); a unary call that sent none gets `defaultTimeoutMs`. Either way a
 * unary call answers DEADLINE_EXCEEDED on time even if its handler ignores the signal. Server streams
 * (Watch, live events) are long-lived by design and only get the client's deadline.
 * The deadline is exposed as `deadlineKey` and to outgoing calls made while serving (see
 * clientDeadlineInterceptor).
 */
export function serverDeadlineInterceptor(defaultTimeoutMs: number): Interceptor {
  return (next) => async (req) => {
    const requested = requestedTimeoutMs(req.header);
    const timeoutMs = requested ?? (req.stream ? undefined : defaultTimeoutMs);
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    req.contextValues.set(deadlineKey, deadline);
    let signal = req.signal;
    let timer: NodeJS.Timeout | undefined;
    if (requested === undefined && timeoutMs !== undefined) {
      const expiry = new AbortController();
      timer = setTimeout(
        () => expiry.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)),
        timeoutMs,
      );
      signal = AbortSignal.any([req.signal, expiry.signal]);
    }
    const call = { deadline };
    try {
      if (!req.stream)
        return await raceAbort(
          runInCall(call, () => next({ ...req, signal })),
          signal,
        );
      const res = await runInCall(call, () => next({ ...req, signal }));
      if (!res.stream) return res;
      return {
        ...res,
        message: observeIterable(
          res.message,
          () => undefined,
          (step) => runInCall(call, step),
        ),
      };
    } finally {
      clearTimeout(timer);
    }
  };
}

/**
 * Client deadlines: a call made while serving another RPC gets at most what is left of that RPC's deadline
 * (sent as grpc-timeout / connect-timeout-ms and enforced locally); a call whose caller is already out of
 * time fails with DEADLINE_EXCEEDED without being sent.
 */
export function clientDeadlineInterceptor(): Interceptor {
  return (next) => async (req) => {
    const deadline = currentCall()?.deadline;
    if (deadline === undefined) return next(req);
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new ConnectError("the caller's deadline has passed", Code.DeadlineExceeded);
    }
    const requested = requestedTimeoutMs(req.header);
    if (requested !== undefined && requested <= remaining) return next(req);
    setRequestTimeout(req.header, remaining);
    const expiry = new AbortController();
    const timer = setTimeout(
      () => expiry.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)),
      remaining,
    );
    try {
      return await next({ ...req, signal: AbortSignal.any([req.signal, expiry.signal]) });
    } finally {
      clearTimeout(timer);
    }
  };
}
