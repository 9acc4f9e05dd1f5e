import { Writable } from "node:stream";
import { context, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, REDACT_CENSOR, REDACTED_KEYS, redactLine } from "./logger.ts";

function capture() {
  const lines: string[] = [];
  let pending = "";
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending += chunk.toString("utf8");
      const parts = pending.split("\n");
      pending = parts.pop() ?? "";
      lines.push(...parts);
      done();
    },
  });
  return { stream, lines };
}

function parse(line: string | undefined): Record<string, unknown> {
  const value: unknown = JSON.parse(line ?? "null");
  if (typeof value !== "object" || value === null) throw new Error(`not a JSON object: ${line}`);
  return Object.fromEntries(Object.entries(value));
}

describe("logger", () => {
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(manager.enable());
  });
  afterAll(() => {
    manager.disable();
    context.disable();
  });

  it("writes JSON lines with level, time, service and message", () => {
    const { stream, lines } = capture();
    const logger = createLogger({ service: "ostmesh-test", destination: stream });
    logger.info({ ticketNumber: "123456" }, "ticket created");
    const line = parse(lines[0]);
    expect(line).toMatchObject({
      level: "info",
      service: "ostmesh-test",
      msg: "ticket created",
      ticketNumber: "123456",
    });
    expect(typeof line.time).toBe("string");
    expect(line).not.toHaveProperty("trace_id");
  });

  it("adds trace_id and span_id of the active span", () => {
    const { stream, lines } = capture();
    const logger = createLogger({ service: "ostmesh-test", destination: stream });
    const span = trace.wrapSpanContext({
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: "b7ad6b7169203331",
      traceFlags: 1,
    });
    context.with(trace.setSpan(ROOT_CONTEXT, span), () => logger.info("inside"));
    logger.info("outside");
    expect(parse(lines[0])).toMatchObject({
      trace_id: "0af7651916cd43dd8448eb211c80319c",
      span_id: "b7ad6b7169203331",
    });
    expect(parse(lines[1])).not.toHaveProperty("trace_id");
  });

  it("respects the level", () => {
    const { stream, lines } = capture();
    const logger = createLogger({ service: "ostmesh-test", level: "warn", destination: stream });
    logger.info("hidden");
    logger.warn("shown");
    expect(lines.map((l) => parse(l).msg)).toEqual(["shown"]);
  });

  it("never writes passwords, API keys, tokens, Authorization or Cookie headers", () => {
    const { stream, lines } = capture();
    const logger = createLogger({ service: "ostmesh-test", destination: stream });
    const secrets = new Map<string, string>();
    const secret = (label: string) => {
      const value = `S3CRET-${label}-${secrets.size}`;
      secrets.set(label, value);
      return value;
    };
    logger.info(
      {
        password: secret("password"),
        user: { email: "a@example.org", password: secret("user.password"), passwd: secret("passwd") },
        login: { request: { body: { credentials: { password: secret("deep.password") } } } },
        req: {
          headers: {
            authorization: secret("authorization"),
            cookie: secret("cookie"),
            "x-api-key": secret("x-api-key"),
            "user-agent": "curl/8",
          },
        },
        res: { headers: { "set-cookie": secret("set-cookie") } },
        upstream: {
          Authorization: secret("Authorization"),
          Cookie: secret("Cookie"),
          "X-API-Key": secret("X-API-Key"),
        },
        apikey: secret("apikey"),
        api_key: secret("api_key"),
        apiKey: secret("apiKey"),
        tokens: {
          access_token: secret("access_token"),
          refresh_token: secret("refresh_token"),
          id_token: secret("id_token"),
          accessToken: secret("accessToken"),
          refreshToken: secret("refreshToken"),
          idToken: secret("idToken"),
        },
        oauth: { client: { client_secret: secret("client_secret") } },
        items: [{ token: secret("items[0].token") }],
      },
      "request with secrets",
    );
    logger.warn({ err: { message: "boom", config: { password: secret("err.config.password") } } }, "failure");
    const output = lines.join("\n");
    for (const [label, value] of secrets) {
      expect(output, `${label} leaked`).not.toContain(value);
    }
    expect(output).toContain(REDACT_CENSOR);
    const first = parse(lines[0]);
    // Redaction replaces values; the rest of the object is kept.
    expect(first.req).toEqual({
      headers: {
        authorization: REDACT_CENSOR,
        cookie: REDACT_CENSOR,
        "x-api-key": REDACT_CENSOR,
        "user-agent": "curl/8",
      },
    });
    expect(first.user).toEqual({ email: "a@example.org", password: REDACT_CENSOR, passwd: REDACT_CENSOR });
  });

  it("redacts at any depth and in child bindings, and leaves lines without the keys as written", () => {
    const { stream, lines } = capture();
    const logger = createLogger({ service: "ostmesh-test", destination: stream });
    const child = logger.child({ upstream: { headers: { authorization: "Bearer S3CRET-binding" } } });
    child.info(
      { a: { b: { c: { d: { e: { f: { g: { h: { password: "S3CRET-depth-8" } } } } } } } } },
      "password reset requested",
    );
    logger.info({ note: 'a "password": in a value is text', tokenCount: 3 }, "plain");
    const [secretLine, plainLine] = lines;
    expect(secretLine).not.toContain("S3CRET");
    const parsed = parse(secretLine);
    expect(parsed.upstream).toEqual({ headers: { authorization: REDACT_CENSOR } });
    expect(JSON.stringify(parsed.a)).toContain(`"password":"${REDACT_CENSOR}"`);
    expect(parsed.msg).toBe("password reset requested");
    // Untouched: the same bytes pino wrote (a key inside a string value is not a key).
    expect(redactLine(`${plainLine}\n`)).toBe(`${plainLine}\n`);
    expect(parse(plainLine)).toMatchObject({ note: 'a "password": in a value is text', tokenCount: 3 });
    expect(REDACTED_KEYS).toEqual(
      expect.arrayContaining(["authorization", "cookie", "x-api-key", "refresh_token"]),
    );
  });

  it("censors a line JSON cannot read by its text rather than let a secret through", () => {
    const broken = '{"level":"info","password":"S3CRET-a","nested":{"token":12345},"x":1';
    const out = redactLine(broken);
    expect(out).not.toContain("S3CRET");
    expect(out).not.toContain("12345");
    expect(out).toContain(`"password":"${REDACT_CENSOR}"`);
  });

  it("writes a failed statement's SQL with its literals masked, for errors and their causes", async () => {
    // A real MariaDB refusal: mysql2 keeps the statement, values formatted in, on the error (`sql`).
    const conn = await mysql.createConnection({
      uri: process.env.TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306",
    });
    const failure = await conn
      .query("SELECT id FROM no_such_db.ost_api_key WHERE apikey = ? AND email = ?", [
        "C8F2A61D0B6E4E0C",
        "reader@example.com",
      ])
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    await conn.end();
    expect(failure).toBeInstanceOf(Error);
    expect(JSON.stringify(failure)).toContain("C8F2A61D0B6E4E0C");

    const { stream, lines } = capture();
    const logger = createLogger({ service: "ostmesh-test", destination: stream });
    logger.error({ err: failure }, "rpc failed");
    logger.error({ error: new Error("create failed", { cause: failure }) }, "wrapped");
    logger.error({ err: new AggregateError([failure], "every attempt failed") }, "aggregate");
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line).not.toContain("C8F2A61D0B6E4E0C");
      expect(line).not.toContain("reader@example.com");
    }
    const err = parse(lines[0]).err as Record<string, unknown>;
    expect(err.sql).toBe("SELECT id FROM no_such_db.ost_api_key WHERE apikey = ? AND email = ?");
    expect(err.code).toBe("ER_NO_SUCH_TABLE");
    expect(String(err.message)).toContain("no_such_db");
  });
});
