import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ConfigError, EXIT_CONFIG, env, type Field, loadConfig } from "./env.ts";
import { DEFAULT_PORTS, loadMeshConfig } from "./mesh.ts";

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.variable}: ${p.problem}`);
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("env schema", () => {
  it("parses every kind of value", () => {
    const config = loadConfig(
      (read) => ({
        name: read(env.string("NAME")),
        count: read(env.int("COUNT", { min: 1, max: 10 })),
        ratio: read(env.number("RATIO", { min: 0, max: 1 })),
        port: read(env.port("PORT")),
        url: read(env.url("URL", { protocols: ["http:"] })),
        level: read(env.enum("LEVEL", ["info", "debug"])),
        flag: read(env.bool("FLAG")),
        wait: read(env.duration("WAIT")),
        size: read(env.bytes("SIZE")),
        list: read(env.list("LIST", ["a", "b", "c"])),
      }),
      {
        NAME: "ostmesh",
        COUNT: "7",
        RATIO: "0.25",
        PORT: "8080",
        URL: "http://127.0.0.1:1/x",
        LEVEL: "DEBUG",
        FLAG: "yes",
        WAIT: "1.5s",
        SIZE: "4MiB",
        LIST: "c, a,c",
      },
    );
    expect(config).toEqual({
      name: "ostmesh",
      count: 7,
      ratio: 0.25,
      port: 8080,
      url: "http://127.0.0.1:1/x",
      level: "debug",
      flag: true,
      wait: 1500,
      size: 4 * 1024 * 1024,
      list: ["c", "a"],
    });
  });

  it("uses defaults for unset and empty variables, undefined for optional ones", () => {
    const config = loadConfig(
      (read) => ({
        port: read(env.port("PORT").default(50051)),
        wait: read(env.duration("WAIT").default(250)),
        endpoint: read(env.url("ENDPOINT").optional()),
      }),
      { PORT: "  ", WAIT: undefined },
    );
    expect(config).toEqual({ port: 50051, wait: 250, endpoint: undefined });
  });

  it("reads the first variable that is set among alternatives", () => {
    const ratio = env
      .number("OSTMESH_TRACE_RATIO", { min: 0, max: 1 })
      .or("OTEL_TRACES_SAMPLER_ARG")
      .default(1);
    expect(loadConfig((read) => read(ratio), { OTEL_TRACES_SAMPLER_ARG: "0.5" })).toBe(0.5);
    expect(
      loadConfig((read) => read(ratio), { OSTMESH_TRACE_RATIO: "0.1", OTEL_TRACES_SAMPLER_ARG: "0.5" }),
    ).toBe(0.1);
    expect(problemsOf(() => loadConfig((read) => read(ratio), { OTEL_TRACES_SAMPLER_ARG: "2" }))).toEqual([
      'OTEL_TRACES_SAMPLER_ARG: must be a number 0..1, got "2"',
    ]);
  });

  it.each<[string, Field<unknown>, string, string]>([
    ["int", env.int("V", { min: 1, max: 5 }), "9", 'V: must be an integer 1..5, got "9"'],
    ["int (not a number)", env.int("V"), "12abc", 'V: must be an integer, got "12abc"'],
    ["number", env.number("V"), "NaN", 'V: must be a number, got "NaN"'],
    ["port", env.port("V"), "70000", 'V: must be a TCP port 0..65535, got "70000"'],
    ["url", env.url("V"), "not a url", 'V: must be a URL, got "not a url"'],
    [
      "url scheme",
      env.url("V", { protocols: ["mysql:"] }),
      "http://x",
      'V: must be a mysql URL, got "http://x"',
    ],
    ["enum", env.enum("V", ["a", "b"]), "c", 'V: must be one of a, b, got "c"'],
    ["bool", env.bool("V"), "maybe", 'V: must be true or false, got "maybe"'],
    [
      "duration",
      env.duration("V"),
      "10 parsecs",
      'V: must be a duration like 500ms, 10s, 2m, got "10 parsecs"',
    ],
    ["duration minimum", env.duration("V", { min: 50 }), "10ms", 'V: must be at least 50ms, got "10ms"'],
    ["bytes", env.bytes("V"), "4 lots", 'V: must be a size like 1048576, 512KiB, 4MiB, got "4 lots"'],
    ["list", env.list("V", ["a"]), "a,z", 'V: must be a comma-separated list of a (unknown "z"), got "a,z"'],
    [
      "string pattern",
      env.string("V", { pattern: /^x/, expected: "an x-word" }),
      "y",
      'V: must be an x-word, got "y"',
    ],
  ])("rejects a bad %s naming the variable", (_kind, field, raw, problem) => {
    expect(problemsOf(() => loadConfig((read) => read(field), { V: raw }))).toEqual([problem]);
  });

  it("requires variables without a default", () => {
    expect(problemsOf(() => loadConfig((read) => read(env.url("DATABASE_URL")), {}))).toEqual([
      "DATABASE_URL: is required (a URL)",
    ]);
  });

  it("applies refinements", () => {
    const even = env.int("N").refine((n) => (n % 2 === 0 ? undefined : "must be even"));
    expect(loadConfig((read) => read(even), { N: "4" })).toBe(4);
    expect(problemsOf(() => loadConfig((read) => read(even), { N: "3" }))).toEqual([
      'N: must be even, got "3"',
    ]);
  });

  it("reports every bad variable in one line", () => {
    let error: unknown;
    try {
      loadConfig((read) => [read(env.port("A_PORT")), read(env.bool("B_FLAG"))], {
        A_PORT: "x",
        B_FLAG: "y",
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = error instanceof Error ? error.message : "";
    expect(message).not.toContain("\n");
    expect(message).toBe(
      'invalid configuration: A_PORT must be a TCP port 0..65535, got "x"; B_FLAG must be true or false, got "y"',
    );
  });
});

describe("mesh config", () => {
  it("has working defaults for every variable", () => {
    const config = loadMeshConfig({});
    expect(config.databaseUrl).toBe("mysql://root@127.0.0.1:3306/osticket");
    expect(config.natsUrl).toBe("nats://127.0.0.1:4222");
    expect(config.logLevel).toBe("info");
    expect(config.services.ticket).toEqual({
      port: DEFAULT_PORTS.ticket.rpc,
      adminPort: DEFAULT_PORTS.ticket.admin,
      url: "http://127.0.0.1:50051",
    });
    expect(config.services.notification.url).toBe("http://127.0.0.1:50054");
    expect(config.gateway).toEqual({ port: 8080, h2cPort: 8081, adminPort: 9080 });
    expect(config.telemetry).toEqual({ serviceName: undefined, otlpEndpoint: undefined, traceRatio: 1 });
    expect(config.hostedServices).toBeUndefined();
    expect(config.limits.maxMessageBytes).toBe(16 * 1024 * 1024);
    expect(config.timing.requestTimeoutMs).toBe(30_000);
    expect(config.timing.shutdownGraceMs).toBe(10_000);
  });

  it("derives a service's URL from its port unless <SVC>_URL is set", () => {
    const config = loadMeshConfig({ IDENTITY_PORT: "6000", TICKET_URL: "http://ticket.mesh:50051" });
    expect(config.services.identity.url).toBe("http://127.0.0.1:6000");
    expect(config.services.ticket.url).toBe("http://ticket.mesh:50051");
  });

  it("reads the hosted services and limits", () => {
    const config = loadMeshConfig({
      OSTMESH_SERVICES: "identity,ticket",
      OSTMESH_MAX_MESSAGE_BYTES: "1MiB",
      OSTMESH_REQUEST_TIMEOUT: "5s",
    });
    expect(config.hostedServices).toEqual(["identity", "ticket"]);
    expect(config.limits.maxMessageBytes).toBe(1024 * 1024);
    expect(config.timing.requestTimeoutMs).toBe(5000);
  });

  it("names each bad variable", () => {
    expect(
      problemsOf(() =>
        loadMeshConfig({
          DATABASE_URL: "postgres://x/y",
          TICKET_PORT: "http",
          OSTMESH_SERVICES: "ticket,billing",
          LOG_LEVEL: "loud",
        }),
      ),
    ).toEqual([
      'DATABASE_URL: must be a mysql URL, got "postgres://x/y"',
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      'OSTMESH_SERVICES: must be a comma-separated list of ticket, identity, attachment, notification (unknown "billing"), got "ticket,billing"',
      'TICKET_PORT: must be a TCP port 0..65535, got "http"',
    ]);
  });
});

describe("a process with a bad variable", () => {
  it("stops with exit code 78 and one line naming the variable", () => {
    const main = fileURLToPath(new URL("../../../../services/ticket/src/main.ts", import.meta.url));
    const result = spawnSync(process.execPath, [main], {
      env: { PATH: process.env.PATH, TICKET_ADMIN_PORT: "99999" },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(result.status).toBe(EXIT_CONFIG);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      'ostmesh-ticket: invalid configuration: TICKET_ADMIN_PORT must be a TCP port 0..65535, got "99999"\n',
    );
  });
});
