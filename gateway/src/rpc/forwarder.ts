/**
 * One generic forwarder for every public method: for each service descriptor, every method is registered
 * with a handler that calls the owning service with the same descriptor over HTTP/2 (gRPC), whatever the
 * caller spoke (Connect, gRPC, gRPC-Web; JSON or binary — the message is re-encoded as binary upstream).
 * Deadlines (the handler's remaining time), cancellation (the handler's signal), request and response
 * headers and trailers, and errors (code, message, details, metadata) pass through; streams stream.
 */
import type {
  DescMessage,
  DescMethod,
  DescMethodBiDiStreaming,
  DescMethodClientStreaming,
  DescMethodServerStreaming,
  DescMethodUnary,
  DescService,
  MessageShape,
} from "@bufbuild/protobuf";
import {
  ConnectError,
  type ConnectRouter,
  createContextKey,
  type HandlerContext,
  type Transport,
} from "@connectrpc/connect";
import { createAsyncIterable } from "@connectrpc/connect/protocol";

/** The Authorization value to send upstream (set by the edge authentication interceptor). */
export const forwardAuthorizationKey = createContextKey<string | undefined>(undefined, {
  description: "authorization forwarded upstream",
});
/** The caller's address after the trusted-proxy rules (set by the edge from the socket). */
export const clientIpKey = createContextKey<string>("", { description: "client ip" });

/**
 * Request headers that belong to a hop, a protocol, or that the gateway sets itself. Trace context is
 * passed on; the client tracing interceptor replaces it with the gateway's own span when tracing is on.
 */
const NOT_FORWARDED = new Set([
  "authorization",
  "x-api-key",
  "cookie",
  "host",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "content-type",
  "content-length",
  "content-encoding",
  "accept-encoding",
  "origin",
  "referer",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "forwarded",
  "x-grpc-web",
  "x-user-agent",
]);
const NOT_FORWARDED_PREFIXES = ["connect-", "grpc-", "proxy-", "sec-", "access-control-", ":"];

/** Response headers and trailers the protocol or the gateway itself writes. */
const NOT_RETURNED = new Set([
  "content-type",
  "content-length",
  "content-encoding",
  "transfer-encoding",
  "trailer",
  "date",
  "server",
  "connection",
  "keep-alive",
  "vary",
  "te",
]);
const NOT_RETURNED_PREFIXES = ["grpc-", "connect-", "access-control-", ":", "trailer-"];

function forwardable(name: string, deny: ReadonlySet<string>, prefixes: readonly string[]): boolean {
  const lower = name.toLowerCase();
  return !deny.has(lower) && !prefixes.some((p) => lower.startsWith(p));
}

export function upstreamHeaders(ctx: HandlerContext): Headers {
  const headers = new Headers();
  ctx.requestHeader.forEach((value, name) => {
    if (forwardable(name, NOT_FORWARDED, NOT_FORWARDED_PREFIXES)) headers.append(name, value);
  });
  const authorization = ctx.values.get(forwardAuthorizationKey);
  if (authorization) headers.set("authorization", authorization);
  const clientIp = ctx.values.get(clientIpKey);
  if (clientIp) headers.set("x-forwarded-for", clientIp);
  return headers;
}

function copyInto(from: Headers, to: Headers): void {
  from.forEach((value, name) => {
    if (forwardable(name, NOT_RETURNED, NOT_RETURNED_PREFIXES)) to.append(name, value);
  });
}

/**
 * Upstream errors go back as they came: code, message, details, and their metadata minus the protocol's own
 * fields. (Connect servers drop the metadata of errors parsed from the wire, so the error is re-created.)
 */
function passError(error: unknown): never {
  if (!(error instanceof ConnectError)) throw error;
  const metadata = new Headers();
  error.metadata.forEach((value, name) => {
    if (forwardable(name, NOT_RETURNED, NOT_RETURNED_PREFIXES)) metadata.append(name, value);
  });
  const relayed = new ConnectError(error.rawMessage, error.code, metadata, undefined, error);
  relayed.details = error.details;
  throw relayed;
}

type AnyMessage = MessageShape<DescMessage>;

export interface ForwarderOptions {
  services: readonly DescService[];
  /** The transport reaching the service that owns `service`. */
  transport(service: DescService): Transport;
}

/** Registers the forwarding handler of every method of every service. */
export function forwarderRoutes(options: ForwarderOptions): (router: ConnectRouter) => void {
  return (router) => {
    for (const service of options.services) {
      const transport = options.transport(service);
      for (const method of service.methods) registerMethod(router, transport, method);
    }
  };
}

function isUnary(m: DescMethod): m is DescMethodUnary {
  return m.methodKind === "unary";
}
function isServerStreaming(m: DescMethod): m is DescMethodServerStreaming {
  return m.methodKind === "server_streaming";
}
function isClientStreaming(m: DescMethod): m is DescMethodClientStreaming {
  return m.methodKind === "client_streaming";
}
function isBiDiStreaming(m: DescMethod): m is DescMethodBiDiStreaming {
  return m.methodKind === "bidi_streaming";
}

function registerMethod(router: ConnectRouter, transport: Transport, method: DescMethod): void {
  if (isUnary(method)) {
    router.rpc(method, async (input: AnyMessage, ctx: HandlerContext) => {
      try {
        const res = await transport.unary(method, ctx.signal, ctx.timeoutMs(), upstreamHeaders(ctx), input);
        copyInto(res.header, ctx.responseHeader);
        copyInto(res.trailer, ctx.responseTrailer);
        return res.message;
      } catch (error) {
        passError(error);
      }
    });
  } else if (isServerStreaming(method)) {
    router.rpc(method, async function* (input: AnyMessage, ctx: HandlerContext) {
      try {
        const res = await transport.stream(
          method,
          ctx.signal,
          ctx.timeoutMs(),
          upstreamHeaders(ctx),
          createAsyncIterable([input]),
        );
        copyInto(res.header, ctx.responseHeader);
        yield* res.message;
        copyInto(res.trailer, ctx.responseTrailer);
      } catch (error) {
        passError(error);
      }
    });
  } else if (isClientStreaming(method)) {
    router.rpc(method, async (inputs: AsyncIterable<AnyMessage>, ctx: HandlerContext) => {
      try {
        const res = await transport.stream(method, ctx.signal, ctx.timeoutMs(), upstreamHeaders(ctx), inputs);
        copyInto(res.header, ctx.responseHeader);
        let last: AnyMessage | undefined;
        for await (const message of res.message) last = message;
        copyInto(res.trailer, ctx.responseTrailer);
        if (last === undefined) throw new ConnectError("the service sent no response message");
        return last;
      } catch (error) {
        passError(error);
      }
    });
  } else if (isBiDiStreaming(method)) {
    router.rpc(method, async function* (inputs: AsyncIterable<AnyMessage>, ctx: HandlerContext) {
      try {
        const res = await transport.stream(method, ctx.signal, ctx.timeoutMs(), upstreamHeaders(ctx), inputs);
        copyInto(res.header, ctx.responseHeader);
        yield* res.message;
        copyInto(res.trailer, ctx.responseTrailer);
      } catch (error) {
        passError(error);
      }
    });
  }
}
