import { spawn } from "node:child_process";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INSTRUMENTED_MODULES } from "./instrumented-modules.ts";
import { instrumentations } from "./sdk.ts";
import { processServiceName } from "./service-name.ts";

const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
const APP = "packages/kit/src/telemetry/fixtures/instrumented-app.ts";

interface ReceivedSpan {
  service: string;
  scope: string;
  name: string;
  kind: number;
  traceId: string;
  attributes: Record<string, unknown>;
}

/** A fake OTLP/HTTP collector: keeps every span posted to /v1/traces (OTLP JSON). */
function collector() {
  const spans: ReceivedSpan[] = [];
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    req.on("end", () => {
      paths.push(req.url ?? "");
      const payload: {
        resourceSpans?: {
          resource?: { attributes?: { key: string; value: { stringValue?: string } }[] };
          scopeSpans?: {
            scope?: { name?: string };
            spans?: {
              name: string;
              kind: number;
              traceId: string;
              attributes?: { key: string; value: Record<string, unknown> }[];
            }[];
          }[];
        }[];
      } = JSON.parse(body);
      for (const rs of payload.resourceSpans ?? []) {
        const service =
          rs.resource?.attributes?.find((a) => a.key === "service.name")?.value.stringValue ?? "";
        for (const ss of rs.scopeSpans ?? []) {
          for (const span of ss.spans ?? []) {
            const attributes = Object.fromEntries(
              (span.attributes ?? []).map((a) => [a.key, Object.values(a.value)[0]]),
            );
            spans.push({
              service,
              scope: ss.scope?.name ?? "",
              name: span.name,
              kind: span.kind,
              traceId: span.traceId,
              attributes,
            });
          }
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  return { server, spans, paths };
}

describe("telemetry preload", () => {
  const fake = collector();
  let port = 0;

  beforeAll(async () => {
    await new Promise<void>((resolve) => fake.server.listen(0, "127.0.0.1", resolve));
    const address = fake.server.address();
    port = typeof address === "object" && address ? address.port : 0;
  });
  afterAll(() => new Promise<void>((resolve) => fake.server.close(() => resolve())));

  it("instruments node:http and mysql2 in an ESM app and exports over OTLP/HTTP", async () => {
    const child = spawn(process.execPath, ["--import", "@ostmesh/kit/telemetry/preload.ts", APP], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_SERVICE_NAME: "ostmesh-preload-test",
        DATABASE_URL: "mysql://root@127.0.0.1:3306",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ body: "ok", rows: [{ one: 1 }] });

    expect(fake.paths.every((p) => p === "/v1/traces")).toBe(true);
    const byScope = (scope: string) => fake.spans.filter((s) => s.scope === scope);
    const httpSpans = byScope("@opentelemetry/instrumentation-http");
    const client = httpSpans.find((s) => s.kind === 3);
    const server = httpSpans.find((s) => s.kind === 2);
    expect(client?.name).toBe("GET");
    expect(server?.name).toBe("GET");
    // A signed link's signature (the gateway's download links) is a credential: neither side keeps it.
    expect(server?.attributes["url.query"]).toBe("expires=1&signature=REDACTED&page=2");
    expect(String(client?.attributes["url.full"])).toMatch(/\?expires=1&signature=REDACTED&page=2$/);
    expect(JSON.stringify(fake.spans)).not.toContain("fixture-signature");
    // The outgoing request carried the trace context into the incoming one.
    expect(server?.traceId).toBe(client?.traceId);
    // Only the statement inside the fixture's span: the one outside any work starts no trace. Its literals
    // are masked.
    const sql = byScope("@opentelemetry/instrumentation-mysql2");
    expect(sql).toHaveLength(1);
    expect(sql[0]?.attributes["db.query.text"]).toBe("SELECT ? AS one WHERE ? <> ?");
    const work = fake.spans.find((s) => s.name === "fixture work");
    expect(sql[0]?.traceId).toBe(work?.traceId);
    expect(new Set(fake.spans.map((s) => s.service))).toEqual(new Set(["ostmesh-preload-test"]));
  });

  it("lets the loader hook wrap every module an instrumentation patches", () => {
    // init() hands back the module definitions an instrumentation registers its hooks for.
    // (Constructing one enables it in this process; it is disabled again once read.)
    const patched = instrumentations().flatMap((instrumentation) => {
      instrumentation.disable();
      const definitions = (
        instrumentation as unknown as { init(): { name: string } | { name: string }[] }
      ).init();
      return (Array.isArray(definitions) ? definitions : [definitions]).map((d) => d.name);
    });
    expect(patched.length).toBeGreaterThan(0);
    expect([...new Set(patched)].sort()).toEqual([...INSTRUMENTED_MODULES].sort());
  });

  it("stops the process with one line when a telemetry variable is bad", async () => {
    const child = spawn(process.execPath, ["--import", "@ostmesh/kit/telemetry/preload.ts", APP], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, OSTMESH_TRACE_RATIO: "2" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    expect(code).toBe(78);
    expect(stderr).toBe(
      'ostmesh: invalid configuration: OSTMESH_TRACE_RATIO must be a number 0..1, got "2"\n',
    );
  });
});

describe("process service name", () => {
  it.each([
    ["/app/services/ticket/src/main.ts", "ostmesh-ticket"],
    ["/work/main/services/notification/src/main.ts", "ostmesh-notification"],
    ["/app/gateway/src/main.ts", "ostmesh-gateway"],
    ["/app/scripts/start.ts", "ostmesh"],
    [undefined, "ostmesh"],
  ])("%s -> %s", (entry, name) => {
    expect(processServiceName(entry)).toBe(name);
  });
});
