import http2 from "node:http2";
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import {
  Health,
  HealthCheckResponse_ServingStatus as Status,
} from "@ostmesh/proto/gen/grpc/health/v1/health_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mysqlCheck, natsCheck } from "../health/checks.ts";
import type { ReadinessCheck } from "../health/monitor.ts";
import { Topology } from "../rpc/topology.ts";
import { EchoService } from "../testing/echo.ts";
import {
  type CapturedLogs,
  captureLogs,
  type EchoObservations,
  echoImpl,
  TEST_NATS_URL,
  testConfig,
} from "../testing/harness.ts";
import { type ServiceProcess, startServiceProcess } from "./process.ts";

const ECHO = "ostmesh.kit.testing.v1.EchoService";

async function errorOf(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}

function grpc(port: number): Transport {
  return createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
}

async function getJson(
  port: number,
  path: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  const value: unknown = await res.json();
  const body = typeof value === "object" && value !== null ? Object.fromEntries(Object.entries(value)) : {};
  return { status: res.status, body };
}

/** Waits until `condition` holds, polling; fails with `what` after `ms`. */
async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("service process", () => {
  let db: ScratchDatabase;
  let proc: ServiceProcess;
  let logs: CapturedLogs;
  let switchOn = true;
  const seen: EchoObservations = {};

  beforeAll(async () => {
    db = await createScratchDatabase({ from: "empty", label: "kitproc" });
    logs = captureLogs();
    const config = testConfig({
      DATABASE_URL: db.url,
      OSTMESH_MAX_MESSAGE_BYTES: "2KiB",
      OSTMESH_REQUEST_TIMEOUT: "700ms",
    });
    const mysql = mysqlCheck(db.url);
    const nats = natsCheck(TEST_NATS_URL);
    const toggle: ReadinessCheck = {
      name: "switch",
      async check() {
        if (!switchOn) throw new Error("switched off by the test");
      },
    };
    proc = await startServiceProcess({
      name: "kit-test",
      config,
      logger: logs.logger,
      services: [
        { name: "ticket", register: (router) => void router.service(EchoService, echoImpl({}, seen)) },
      ],
      checks: [mysql, nats, toggle],
      onShutdown: [() => mysql.close(), () => nats.close()],
      listen: { h2c: [0], http1: [0], admin: 0 },
      handleSignals: false,
    });
  });

  afterAll(async () => {
    await proc?.shutdown("test over");
    await db?.drop();
  });

  describe("health", () => {
    it("answers SERVING with real MySQL and NATS, per service name and overall", async () => {
      const health = createClient(Health, grpc(proc.ports.h2c[0] ?? 0));
      for (const service of ["", "ticket", ECHO]) {
        expect((await health.check({ service })).status, service).toBe(Status.SERVING);
      }
      const list = await health.list({});
      expect(Object.keys(list.statuses).sort()).toEqual(["", ECHO, "ticket"].sort());
      expect(Object.values(list.statuses).map((s) => s.status)).toEqual([
        Status.SERVING,
        Status.SERVING,
        Status.SERVING,
      ]);
    });

    it("answers NOT_FOUND for a name it does not know", async () => {
      const health = createClient(Health, grpc(proc.ports.h2c[0] ?? 0));
      const error = await errorOf(health.check({ service: "billing" }));
      expect(error.code).toBe(Code.NotFound);
    });

    it("serves /healthz and /readyz with the checks it ran", async () => {
      const healthz = await getJson(proc.ports.admin, "/healthz");
      expect(healthz).toEqual({ status: 200, body: { status: "alive", shuttingDown: false } });
      const readyz = await getJson(proc.ports.admin, "/readyz");
      expect(readyz.status).toBe(200);
      expect(readyz.body.status).toBe("ready");
      expect(readyz.body.checks).toEqual([
        expect.objectContaining({ name: "mysql", ok: true }),
        expect.objectContaining({ name: "nats", ok: true }),
        expect.objectContaining({ name: "switch", ok: true }),
      ]);
      const missing = await fetch(`http://127.0.0.1:${proc.ports.admin}/nope`);
      expect(missing.status).toBe(404);
    });

    it("streams status changes on Watch and reports the failing check on /readyz", async () => {
      const health = createClient(Health, grpc(proc.ports.h2c[0] ?? 0));
      const abort = new AbortController();
      const seen: Status[] = [];
      const watching = (async () => {
        try {
          for await (const res of health.watch({ service: "ticket" }, { signal: abort.signal }))
            seen.push(res.status);
        } catch (error) {
          if (ConnectError.from(error).code !== Code.Canceled) throw error;
        }
      })();
      await until(() => seen.length === 1, "the first status");
      expect(seen).toEqual([Status.SERVING]);
      switchOn = false;
      await until(() => seen.length === 2, "NOT_SERVING");
      const readyz = await getJson(proc.ports.admin, "/readyz");
      expect(readyz.status).toBe(503);
      expect(readyz.body.failing).toEqual([{ check: "switch", error: "switched off by the test" }]);
      expect((await health.check({ service: "" })).status).toBe(Status.NOT_SERVING);
      switchOn = true;
      await until(() => seen.length === 3, "SERVING again");
      expect(seen).toEqual([Status.SERVING, Status.NOT_SERVING, Status.SERVING]);
      abort.abort();
      await watching;
    });

    it("watches an unknown name as SERVICE_UNKNOWN", async () => {
      const health = createClient(Health, grpc(proc.ports.h2c[0] ?? 0));
      const abort = new AbortController();
      const stream = health.watch({ service: "billing" }, { signal: abort.signal });
      for await (const res of stream) {
        expect(res.status).toBe(Status.SERVICE_UNKNOWN);
        break;
      }
      abort.abort();
    });
  });

  describe("RPC", () => {
    it("serves Connect, gRPC and gRPC-Web on h2c and Connect on HTTP/1.1", async () => {
      const port = proc.ports.h2c[0] ?? 0;
      const viaGrpc = createClient(EchoService, grpc(port));
      const viaConnect = createClient(
        EchoService,
        createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "2" }),
      );
      expect((await viaGrpc.say({ value: "a" })).value).toBe("echo: a");
      expect((await viaConnect.say({ value: "b" })).value).toBe("echo: b");
      const numbers: number[] = [];
      for await (const n of viaGrpc.count({ value: 3 })) numbers.push(n.value);
      expect(numbers).toEqual([0, 1, 2]);
      const res = await fetch(`http://127.0.0.1:${proc.ports.http1[0]}/${ECHO}/Say`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify("plain http"),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toBe("echo: plain http");
    });

    it("exposes RED metrics and runtime metrics on /metrics after a call", async () => {
      const echo = createClient(EchoService, grpc(proc.ports.h2c[0] ?? 0));
      await echo.say({ value: "count me" });
      await errorOf(echo.say({ value: "reject" }));
      const text = await (await fetch(`http://127.0.0.1:${proc.ports.admin}/metrics`)).text();
      const series = (name: string, code: string) =>
        new RegExp(
          `^${name}\\{[^}]*service="${ECHO}"[^}]*method="Say"[^}]*code="${code}"[^}]*\\} (\\d+)`,
          "m",
        );
      expect(Number(series("rpc_server_requests_total", "ok").exec(text)?.[1])).toBeGreaterThanOrEqual(1);
      expect(
        Number(series("rpc_server_requests_total", "failed_precondition").exec(text)?.[1]),
      ).toBeGreaterThanOrEqual(1);
      const bucket = text
        .split("\n")
        .find(
          (l) =>
            l.startsWith('rpc_server_duration_seconds_bucket{le="0.1"') &&
            l.includes('code="ok"') &&
            l.includes(`service="${ECHO}"`),
        );
      expect(bucket).toMatch(/method="Say"/);
      expect(bucket).toMatch(/process="kit-test"/);
      expect(Number(bucket?.split(" ").at(-1))).toBeGreaterThanOrEqual(1);
      expect(text).toMatch(/^rpc_server_duration_seconds_count\{.*method="Say".*\} \d+/m);
      expect(text).toMatch(/^nodejs_eventloop_lag_seconds\{process="kit-test"\} /m);
      expect(text).toMatch(/^nodejs_heap_size_used_bytes\{process="kit-test"\} /m);
    });

    it("rejects an oversize request with RESOURCE_EXHAUSTED, over gRPC and Connect", async () => {
      const port = proc.ports.h2c[0] ?? 0;
      const big = "x".repeat(4096);
      const viaGrpc = createClient(EchoService, grpc(port));
      expect((await errorOf(viaGrpc.say({ value: big }))).code).toBe(Code.ResourceExhausted);
      const viaConnect = createClient(
        EchoService,
        createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "2" }),
      );
      expect((await errorOf(viaConnect.say({ value: big }))).code).toBe(Code.ResourceExhausted);
      // A message under the limit still passes.
      expect((await viaGrpc.say({ value: "x".repeat(1500) })).value).toHaveLength(1506);
    });

    it("answers DEADLINE_EXCEEDED at the client's deadline even when the handler ignores it", async () => {
      const echo = createClient(EchoService, grpc(proc.ports.h2c[0] ?? 0));
      const started = performance.now();
      const error = await errorOf(echo.say({ value: "sleep:3000" }, { timeoutMs: 150 }));
      expect(error.code).toBe(Code.DeadlineExceeded);
      expect(performance.now() - started).toBeLessThan(1000);
    });

    it("gives a unary call without a deadline the default one", async () => {
      const echo = createClient(
        EchoService,
        createConnectTransport({ baseUrl: `http://127.0.0.1:${proc.ports.h2c[0]}`, httpVersion: "2" }),
      );
      const started = performance.now();
      const error = await errorOf(echo.say({ value: "sleep:3000" }));
      const elapsed = performance.now() - started;
      expect(error.code).toBe(Code.DeadlineExceeded);
      expect(elapsed).toBeGreaterThanOrEqual(650);
      expect(elapsed).toBeLessThan(2000);
    });

    it("maps unknown errors to INTERNAL with a generic message and logs the real one", async () => {
      const echo = createClient(EchoService, grpc(proc.ports.h2c[0] ?? 0));
      const error = await errorOf(echo.say({ value: "boom" }));
      expect(error.code).toBe(Code.Internal);
      expect(error.rawMessage).toBe("internal error");
      expect(JSON.stringify({ message: error.message, metadata: [...error.metadata] })).not.toContain(
        "ost_internal",
      );
      const logged = logs.entries().find((e) => e.msg === "rpc failed");
      expect(logged).toMatchObject({ rpc: `${ECHO}/Say`, code: "internal", level: "error" });
      expect(JSON.stringify(logged?.err)).toContain("table ost_internal_detail is corrupt");
    });

    it("logs a call whose client reset the stream as abandoned (canceled), not as a server fault", async () => {
      const session = http2.connect(`http://127.0.0.1:${proc.ports.h2c[0]}`);
      try {
        const stream = session.request({
          ":method": "POST",
          ":path": `/${ECHO}/Say`,
          "content-type": "application/json",
        });
        stream.on("error", () => undefined);
        seen.lastSay = undefined;
        stream.end(JSON.stringify("sleep:400"));
        await until(() => seen.lastSay !== undefined, "the call in its handler");
        // What a client does when it fails mid-call: reset the stream with an error code.
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        await until(
          () => logs.entries().some((e) => e.msg === "rpc abandoned by the client"),
          "the abandoned call's log line",
        );
      } finally {
        session.close();
      }
      const line = logs.entries().find((e) => e.msg === "rpc abandoned by the client");
      expect(line).toMatchObject({
        rpc: `${ECHO}/Say`,
        code: "canceled",
        level: "info",
        protocol: "connect",
      });
      expect(String(line?.reason)).toContain("INTERNAL_ERROR");
      expect(
        logs.entries().filter((e) => e.msg === "rpc failed" && !JSON.stringify(e).includes("ost_internal")),
      ).toEqual([]);
    });

    it("answers UNAVAILABLE when the database cannot be reached, and logs the driver's error as a warning", async () => {
      const echo = createClient(EchoService, grpc(proc.ports.h2c[0] ?? 0));
      const error = await errorOf(echo.say({ value: "unreachable" }));
      expect(error.code).toBe(Code.Unavailable);
      expect(error.rawMessage).toBe(
        "temporarily unavailable: a backend this call needs cannot be reached; retry later",
      );
      expect(error.message).not.toContain("ECONNREFUSED");
      const logged = logs.entries().find((e) => e.msg === "rpc failed" && e.code === "unavailable");
      expect(logged).toMatchObject({ rpc: `${ECHO}/Say`, level: "warn" });
      expect(JSON.stringify(logged?.err)).toContain("ECONNREFUSED");
    });

    it("passes a deliberate ConnectError through unchanged", async () => {
      const echo = createClient(EchoService, grpc(proc.ports.h2c[0] ?? 0));
      const error = await errorOf(echo.say({ value: "reject" }));
      expect(error.code).toBe(Code.FailedPrecondition);
      expect(error.rawMessage).toBe("this is on purpose");
    });

    it("logs one line per RPC with code and duration", async () => {
      const echo = createClient(EchoService, grpc(proc.ports.h2c[0] ?? 0));
      await echo.say({ value: "log me" });
      const served = logs.entries().filter((e) => e.msg === "rpc served" && e.rpc === `${ECHO}/Say`);
      expect(served.length).toBeGreaterThan(0);
      expect(served.at(-1)).toMatchObject({
        level: "info",
        code: "ok",
        protocol: "grpc",
        service: "ostmesh-test",
      });
      expect(typeof served.at(-1)?.duration_ms).toBe("number");
    });
  });

  describe("topology", () => {
    it("gives the same answers in-process and over the network", async () => {
      const inProcess = proc.topology;
      const network = new Topology(
        testConfig({ DATABASE_URL: db.url, TICKET_URL: `http://127.0.0.1:${proc.ports.h2c[0]}` }),
        [],
      );
      expect(inProcess.hosts("ticket")).toBe(true);
      expect(network.hosts("ticket")).toBe(false);
      try {
        const local = inProcess.client(EchoService, "ticket");
        const remote = network.client(EchoService, "ticket");
        expect(await local.say({ value: "same" })).toEqual(await remote.say({ value: "same" }));
        const collect = async (client: typeof local) => {
          const out: number[] = [];
          for await (const n of client.count({ value: 4 })) out.push(n.value);
          return out;
        };
        expect(await collect(local)).toEqual([0, 1, 2, 3]);
        expect(await collect(remote)).toEqual([0, 1, 2, 3]);
        const localError = await errorOf(local.say({ value: "boom" }));
        const remoteError = await errorOf(remote.say({ value: "boom" }));
        expect([localError.code, localError.rawMessage]).toEqual([Code.Internal, "internal error"]);
        expect([remoteError.code, remoteError.rawMessage]).toEqual([Code.Internal, "internal error"]);
        // In-process calls go through the same server interceptors: they are counted too.
        // (prom-client hands out live objects: read the number before the call.)
        const okSay = async () =>
          (await proc.metrics.rpcRequests.get()).values.find(
            (v) => v.labels.method === "Say" && v.labels.code === "ok",
          )?.value ?? 0;
        const before = await okSay();
        await local.say({ value: "counted" });
        expect(await okSay()).toBe(before + 1);
        // And the same message size limit applies.
        expect((await errorOf(local.say({ value: "y".repeat(4096) }))).code).toBe(Code.ResourceExhausted);
      } finally {
        network.close();
      }
    });

    it("asks the mesh's other processes for uncompressed answers unless OSTMESH_RPC_COMPRESSION is on", async () => {
      const accepted = async (env: Record<string, string>) => {
        const network = new Topology(
          testConfig({ DATABASE_URL: db.url, TICKET_URL: `http://127.0.0.1:${proc.ports.h2c[0]}`, ...env }),
          [],
        );
        try {
          await network.client(EchoService, "ticket").say({ value: "compression" });
          return seen.lastSay?.acceptEncoding ?? null;
        } finally {
          network.close();
        }
      };
      expect(await accepted({})).toBeNull();
      expect(await accepted({ OSTMESH_RPC_COMPRESSION: "true" })).toContain("gzip");
    });
  });
});

describe("a process whose database is down", () => {
  it("answers NOT_SERVING and names the failing check", async () => {
    const config = testConfig({ DATABASE_URL: "mysql://root@127.0.0.1:1/osticket" });
    const proc = await startServiceProcess({
      name: "kit-test-down",
      config,
      logger: captureLogs().logger,
      services: [{ name: "ticket", register: () => undefined }],
      checks: [mysqlCheck(config.databaseUrl, { timeoutMs: 500 }), natsCheck(TEST_NATS_URL)],
      listen: { h2c: [0], admin: 0 },
      handleSignals: false,
    });
    try {
      const health = createClient(Health, grpc(proc.ports.h2c[0] ?? 0));
      expect((await health.check({ service: "" })).status).toBe(Status.NOT_SERVING);
      expect((await health.check({ service: "ticket" })).status).toBe(Status.NOT_SERVING);
      const readyz = await getJson(proc.ports.admin, "/readyz");
      expect(readyz.status).toBe(503);
      expect(readyz.body.failing).toEqual([
        { check: "mysql", error: expect.stringContaining("ECONNREFUSED") },
      ]);
      expect(readyz.body.checks).toContainEqual(expect.objectContaining({ name: "nats", ok: true }));
    } finally {
      await proc.shutdown();
    }
  });

  it("reports NATS down too", async () => {
    const proc = await startServiceProcess({
      name: "kit-test-nats-down",
      config: testConfig(),
      logger: captureLogs().logger,
      checks: [natsCheck("nats://127.0.0.1:1", { timeoutMs: 500 })],
      listen: { h2c: [0], admin: 0 },
      handleSignals: false,
    });
    try {
      const health = createClient(Health, grpc(proc.ports.h2c[0] ?? 0));
      expect((await health.check({ service: "" })).status).toBe(Status.NOT_SERVING);
      const readyz = await getJson(proc.ports.admin, "/readyz");
      expect(readyz.body.failing).toEqual([{ check: "nats", error: expect.any(String) }]);
    } finally {
      await proc.shutdown();
    }
  });
});

describe("a check that is reported, not required", () => {
  it("keeps the process SERVING while NATS is down, and says so on /readyz", async () => {
    const proc = await startServiceProcess({
      name: "kit-test-nats-optional",
      config: testConfig(),
      logger: captureLogs().logger,
      services: [{ name: "ticket", register: () => undefined }],
      checks: [natsCheck("nats://127.0.0.1:1", { timeoutMs: 500, required: false })],
      listen: { h2c: [0], admin: 0 },
      handleSignals: false,
    });
    try {
      const health = createClient(Health, grpc(proc.ports.h2c[0] ?? 0));
      expect((await health.check({ service: "" })).status).toBe(Status.SERVING);
      expect((await health.check({ service: "ticket" })).status).toBe(Status.SERVING);
      const readyz = await getJson(proc.ports.admin, "/readyz");
      expect(readyz.status).toBe(200);
      expect(readyz.body.failing).toEqual([{ check: "nats", error: expect.any(String) }]);
      expect(readyz.body.checks).toContainEqual(
        expect.objectContaining({ name: "nats", ok: false, required: false }),
      );
    } finally {
      await proc.shutdown();
    }
  });

  it("still takes down the health names it is scoped to", async () => {
    const proc = await startServiceProcess({
      name: "kit-test-scoped-optional",
      config: testConfig(),
      logger: captureLogs().logger,
      services: [
        { name: "ticket", register: () => undefined },
        { name: "notification", register: () => undefined },
      ],
      checks: [
        {
          name: "bus",
          required: false,
          services: ["notification"],
          check: async () => {
            throw new Error("bus unreachable");
          },
        },
      ],
      listen: { h2c: [0], admin: 0 },
      handleSignals: false,
    });
    try {
      const health = createClient(Health, grpc(proc.ports.h2c[0] ?? 0));
      expect((await health.check({ service: "" })).status).toBe(Status.SERVING);
      expect((await health.check({ service: "ticket" })).status).toBe(Status.SERVING);
      expect((await health.check({ service: "notification" })).status).toBe(Status.NOT_SERVING);
    } finally {
      await proc.shutdown();
    }
  });
});

describe("auth slot", () => {
  it("runs extra interceptors inside error mapping, before the handler", async () => {
    const seenByAuth: string[] = [];
    const auth: Interceptor = (next) => async (req) => {
      seenByAuth.push(req.method.name);
      const key = req.header.get("x-test-key");
      if (key === "crash") throw new Error("auth backend said: secret-detail");
      if (key !== "let-me-in") throw new ConnectError("missing key", Code.Unauthenticated);
      return next(req);
    };
    const proc = await startServiceProcess({
      name: "kit-test-auth",
      config: testConfig(),
      logger: captureLogs().logger,
      services: [{ name: "ticket", register: (router) => void router.service(EchoService, echoImpl()) }],
      interceptors: [auth],
      listen: { h2c: [0], admin: 0 },
      handleSignals: false,
    });
    try {
      const echo = createClient(EchoService, grpc(proc.ports.h2c[0] ?? 0));
      expect((await errorOf(echo.say({ value: "a" }))).code).toBe(Code.Unauthenticated);
      const crash = await errorOf(echo.say({ value: "a" }, { headers: { "x-test-key": "crash" } }));
      expect([crash.code, crash.rawMessage]).toEqual([Code.Internal, "internal error"]);
      expect((await echo.say({ value: "a" }, { headers: { "x-test-key": "let-me-in" } })).value).toBe(
        "echo: a",
      );
      expect(seenByAuth).toEqual(["Say", "Say", "Say"]);
    } finally {
      await proc.shutdown();
    }
  });
});

describe("graceful shutdown", () => {
  it("lets an in-flight call finish, refuses new ones, then runs the shutdown callbacks", async () => {
    const order: string[] = [];
    const proc = await startServiceProcess({
      name: "kit-test-drain",
      config: testConfig({ OSTMESH_SHUTDOWN_GRACE: "5s" }),
      logger: captureLogs().logger,
      services: [
        {
          name: "ticket",
          register: (router, deps) => {
            router.service(EchoService, echoImpl());
            deps.onShutdown(() => void order.push("service closer"));
          },
        },
      ],
      onShutdown: [() => void order.push("process closer")],
      listen: { h2c: [0], admin: 0 },
      handleSignals: false,
    });
    const port = proc.ports.h2c[0] ?? 0;
    const echo = createClient(EchoService, grpc(port));
    const health = createClient(Health, grpc(port));
    expect((await health.check({ service: "" })).status).toBe(Status.SERVING);

    const slow = echo.say({ value: "sleep:600" }).then((res) => {
      order.push("slow call answered");
      return res;
    });
    await until(() => proc.inFlight() === 1, "the slow call to arrive");
    const shutdown = proc.shutdown("test").then(() => order.push("shutdown done"));
    await until(() => proc.health.shuttingDown, "shutdown to start");

    // Readiness is NOT_SERVING at once, and nothing new gets in, on a new connection or the old one.
    const readyz = await getJson(proc.ports.admin, "/readyz");
    expect(readyz).toMatchObject({ status: 503, body: { status: "shutting down" } });
    const fresh = createClient(EchoService, grpc(port));
    expect((await errorOf(fresh.say({ value: "late" }))).code).toBe(Code.Unavailable);
    expect((await errorOf(echo.say({ value: "late" }))).code).toBe(Code.Unavailable);

    expect((await slow).value).toBe("slept 600");
    await shutdown;
    await proc.closed;
    expect(order).toEqual(["slow call answered", "service closer", "process closer", "shutdown done"]);
    await expect(fetch(`http://127.0.0.1:${proc.ports.admin}/healthz`)).rejects.toThrow();
  });

  it("cancels what is still running when the grace period is over", async () => {
    const proc = await startServiceProcess({
      name: "kit-test-grace",
      config: testConfig({ OSTMESH_SHUTDOWN_GRACE: "200ms", OSTMESH_REQUEST_TIMEOUT: "30s" }),
      logger: captureLogs().logger,
      services: [{ name: "ticket", register: (router) => void router.service(EchoService, echoImpl()) }],
      listen: { h2c: [0], admin: 0 },
      handleSignals: false,
    });
    const echo = createClient(EchoService, grpc(proc.ports.h2c[0] ?? 0));
    const stuck = errorOf(echo.say({ value: "sleep:10000" }));
    await until(() => proc.inFlight() === 1, "the stuck call to arrive");
    const started = performance.now();
    await proc.shutdown("test");
    expect(performance.now() - started).toBeLessThan(3000);
    expect((await stuck).code).toBe(Code.Unavailable);
  });

  it("ends Watch streams with NOT_SERVING", async () => {
    const proc = await startServiceProcess({
      name: "kit-test-watch",
      config: testConfig(),
      logger: captureLogs().logger,
      listen: { h2c: [0], admin: 0 },
      handleSignals: false,
    });
    const health = createClient(Health, grpc(proc.ports.h2c[0] ?? 0));
    const seen: Status[] = [];
    const watching = (async () => {
      for await (const res of health.watch({ service: "" })) seen.push(res.status);
    })();
    await until(() => seen.includes(Status.SERVING), "SERVING");
    await proc.shutdown("test");
    await watching;
    expect(seen.at(-1)).toBe(Status.NOT_SERVING);
  });
});
