import { AsyncLocalStorage } from "node:async_hooks";
import { Code, ConnectError } from "@connectrpc/connect";

/** Code name as Connect writes it on the wire: `ok`, `not_found`, `deadline_exceeded`, ... */
export function codeName(code: Code | undefined): string {
  if (code === undefined) return "ok";
  const name = Code[code];
  return name === undefined
    ? "unknown"
    : name.replace(/[A-Z]/g, (c, i) => (i === 0 ? "" : "_") + c.toLowerCase());
}

/** The Connect code of an error as the caller will see it. */
export function errorCode(error: unknown): Code {
  return error instanceof ConnectError ? error.code : Code.Unknown;
}

/** Which wire protocol a request uses, from its Content-Type. */
export function rpcProtocol(header: Headers): "grpc" | "grpc_web" | "connect" {
  const type = header.get("content-type") ?? "";
  if (type.startsWith("application/grpc-web")) return "grpc_web";
  if (type.startsWith("application/grpc")) return "grpc";
  return "connect";
}

const GRPC_TIMEOUT_UNITS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 0.001,
  n: 0.000001,
};

/** The timeout a client asked for (grpc-timeout or connect-timeout-ms), in milliseconds, if any. */
export function requestedTimeoutMs(header: Headers): number | undefined {
  const connect = header.get("connect-timeout-ms");
  if (connect !== null && /^\d{1,10}$/.test(connect)) return Number(connect);
  const grpc = header.get("grpc-timeout");
  const match = grpc === null ? null : /^(\d{1,8})([HMSmun])$/.exec(grpc);
  if (match?.[1] && match[2]) return Number(match[1]) * (GRPC_TIMEOUT_UNITS[match[2]] ?? 1);
  return undefined;
}

/** Writes a timeout header in the protocol the request already speaks. */
export function setRequestTimeout(header: Headers, timeoutMs: number): void {
  const ms = Math.max(1, Math.ceil(timeoutMs));
  if (rpcProtocol(header) === "connect") header.set("connect-timeout-ms", String(ms));
  else header.set("grpc-timeout", `${ms}m`);
}

/**
 * The RPC being served on this async path: its absolute deadline (epoch ms), if any. Set by the server
 * deadline interceptor; read by the client deadline interceptor, so a call made while serving another
 * inherits what is left of the caller's deadline.
 */
export interface CallScope {
  readonly deadline: number | undefined;
}

const scope = new AsyncLocalStorage<CallScope>();

export function currentCall(): CallScope | undefined {
  return scope.getStore();
}

export function runInCall<T>(call: CallScope, fn: () => T): T {
  return scope.run(call, fn);
}

/**
 * Wraps an async iterable so `onEnd` runs exactly once when it finishes, fails, or is abandoned by the
 * consumer (error undefined on success). Each step runs inside `wrapStep`, e.g. to keep a span active
 * while a server-streaming handler produces its messages.
 */
export function observeIterable<T>(
  source: AsyncIterable<T>,
  onEnd: (error: unknown) => void,
  wrapStep: <R>(step: () => R) => R = (step) => step(),
): AsyncIterable<T> {
  let ended = false;
  const end = (error: unknown) => {
    if (ended) return;
    ended = true;
    onEnd(error);
  };
  return {
    [Symbol.asyncIterator]() {
      const it = source[Symbol.asyncIterator]();
      return {
        async next() {
          try {
            const result = await wrapStep(() => it.next());
            if (result.done) end(undefined);
            return result;
          } catch (error) {
            end(error);
            throw error;
          }
        },
        async return(value?: unknown) {
          end(new ConnectError("stream abandoned by the consumer", Code.Canceled));
          if (it.return) return wrapStep(() => it.return?.(value) ?? Promise.resolve({ done: true, value }));
          return { done: true, value };
        },
        async throw(error?: unknown) {
          end(error);
          if (it.throw) return wrapStep(() => it.throw?.(error) ?? Promise.reject(error));
          throw error;
        },
      };
    },
  };
}
