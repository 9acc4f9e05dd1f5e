/**
 * Helpers for tests of processes built on kit: a config for a test process, a logger whose lines can be
 * read back, and the echo service's implementation.
 */
import { once } from "node:events";
import { createServer } from "node:net";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import mysql from "mysql2/promise";
import { type Logger, pino } from "pino";
import { loadMeshConfig, type MeshConfig } from "../config/mesh.ts";
import { createLogger } from "../log/logger.ts";
import { deadlineKey } from "../rpc/interceptors.ts";
import type { Topology } from "../rpc/topology.ts";
import { EchoService } from "./echo.ts";

export const TEST_NATS_URL = process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222";

/** A mesh config for a test process: fast health polling, quiet logs, overrides last. */
export function testConfig(overrides: Readonly<Record<string, string>> = {}): MeshConfig {
  return loadMeshConfig({
    NATS_URL: TEST_NATS_URL,
    LOG_LEVEL: "info",
    OSTMESH_BIND_HOST: "127.0.0.1",
    OSTMESH_HEALTH_INTERVAL: "100ms",
    OSTMESH_HEALTH_CHECK_TIMEOUT: "1s",
    OSTMESH_SHUTDOWN_GRACE: "2s",
    ...overrides,
  });
}

export interface CapturedLogs {
  readonly logger: Logger;
  /** Every line written so far, parsed. */
  entries(): Record<string, unknown>[];
}

/** A kit logger (same redaction, mixin, format) that keeps its lines in memory. */
export function captureLogs(service = "ostmesh-test", level = "debug"): CapturedLogs {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  const logger = createLogger({ service, level, destination: stream });
  return {
    logger,
    entries: () =>
      lines.map((line) => {
        const value: unknown = JSON.parse(line);
        return typeof value === "object" && value !== null ? Object.fromEntries(Object.entries(value)) : {};
      }),
  };
}

export const silentLogger = (): Logger => pino({ enabled: false });

/** What the echo handlers saw, for assertions. */
export interface EchoObservations {
  /** ctx.timeoutMs() and deadlineKey of the last Say call. */
  lastSay?: {
    timeoutMs: number | undefined;
    deadline: number | undefined;
    traceparent: string | null;
    /** The encodings the caller accepts for the answer (grpc-accept-encoding / connect-accept-encoding). */
    acceptEncoding: string | null;
  };
}

/**
 * The echo service:
 * - Say("x") answers "echo: x"; "sleep:<ms>" sleeps that long ignoring the signal (a slow, careless
 *   handler); "boom" throws an internal error whose text must never reach the client;
 *   "reject" throws a ConnectError on purpose; "unreachable" lets the driver's error escape from a
 *   connection to a MySQL port nobody listens on (a database that is down).
 * - Relay(x) calls Say(x) on `relayTo` through the topology and answers "relayed: <answer>".
 * - Count(n) streams 0..n-1.
 */
export function echoImpl(
  options: { topology?: Topology; relayTo?: "ticket" | "identity" | "attachment" | "notification" } = {},
  seen: EchoObservations = {},
): ServiceImpl<typeof EchoService> {
  return {
    async say(req, ctx: HandlerContext) {
      seen.lastSay = {
        timeoutMs: ctx.timeoutMs(),
        deadline: ctx.values.get(deadlineKey),
        traceparent: ctx.requestHeader.get("traceparent"),
        acceptEncoding:
          ctx.requestHeader.get("grpc-accept-encoding") ?? ctx.requestHeader.get("connect-accept-encoding"),
      };
      if (req.value.startsWith("sleep:")) {
        await sleep(Number(req.value.slice("sleep:".length)));
        return { value: `slept ${req.value.slice("sleep:".length)}` };
      }
      if (req.value === "boom") throw new Error("table ost_internal_detail is corrupt at /var/lib/mysql");
      if (req.value === "reject") throw new ConnectError("this is on purpose", Code.FailedPrecondition);
      if (req.value === "unreachable") {
        await mysql.createConnection({ host: "127.0.0.1", port: await closedPort(), connectTimeout: 2000 });
      }
      return { value: `echo: ${req.value}` };
    },
    async relay(req, ctx: HandlerContext) {
      if (!options.topology || !options.relayTo)
        throw new ConnectError("relay is not configured", Code.Unimplemented);
      const answer = await options.topology
        .client(EchoService, options.relayTo)
        .say(req, { signal: ctx.signal });
      return { value: `relayed: ${answer.value}` };
    },
    async *count(req) {
      for (let i = 0; i < req.value; i++) yield { value: i };
    },
  };
}

/** A local TCP port that was free a moment ago and has no listener now. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  server.close();
  await once(server, "close");
  return port;
}

/** The ConnectError a call ends with; the test fails if the call succeeds instead. */
export async function rejectionOf(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("the call succeeded");
}
