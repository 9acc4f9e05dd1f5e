/**
 * What an SRE scrapes and reads on the real mesh: every process's /metrics (RED per RPC, Node runtime, the
 * pool/outbox/consumer/delivery series), and every process's log lines (JSON, trace ids inside spans, no
 * secrets even when requests carry a password, an API key and a bearer token).
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type Mesh, PROCESSES, startMesh } from "./mesh.ts";

const PASSWORD = `Pw-${randomBytes(12).toString("hex")}`;
const BEARER = `eyJ${randomBytes(24).toString("base64url")}.${randomBytes(24).toString("base64url")}.sig${randomBytes(8).toString("hex")}`;
const WRONG_KEY = randomBytes(16).toString("hex").toUpperCase();

async function scrape(port: number): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() };
}

/** Sum of every sample of `name` whose labels contain all of `labels`. */
function total(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let sum: number | undefined;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`)))
      sum = (sum ?? 0) + Number(m[3]);
  }
  return sum;
}

describe("operations on the real mesh", () => {
  let mesh: Mesh;
  const statuses: Record<string, number> = {};

  beforeAll(async () => {
    mesh = await startMesh({ label: "ops" });
    const post = async (name: string, path: string, body: string, headers: Record<string, string>) => {
      const res = await fetch(`${mesh.gatewayUrl}${path}`, { method: "POST", headers, body });
      await res.text();
      statuses[name] = res.status;
    };
    // A password (Connect JSON over HTTP/1.1 through the gateway to identity).
    await post(
      "login",
      "/osticket.identity.v1.IdentityService/Login",
      JSON.stringify({ kind: "PRINCIPAL_KIND_AGENT", username: "ostadmin", password: PASSWORD }),
      { "content-type": "application/json" },
    );
    // API keys on a legacy route: the mesh's valid key and an unknown one.
    const ticket = JSON.stringify({
      email: "ops@example.com",
      name: "Ops",
      subject: "Disk",
      message: "full",
    });
    await post("legacy", "/api/tickets.json", ticket, {
      "content-type": "application/json",
      "x-api-key": mesh.apiKey,
    });
    await post("legacy-wrong-key", "/api/tickets.json", ticket, {
      "content-type": "application/json",
      "x-api-key": WRONG_KEY,
    });
    // A bearer token on a forwarded RPC.
    await post("bearer", "/osticket.ticket.v1.TicketService/GetTicket", JSON.stringify({ ticketId: 1 }), {
      "content-type": "application/json",
      authorization: `Bearer ${BEARER}`,
    });
    // Let the processes write their last lines.
    await new Promise((r) => setTimeout(r, 500));
  }, 150_000);

  afterAll(async () => {
    await mesh?.stop();
  }, 60_000);

  it("got answers from the mesh for each secret-carrying request", () => {
    expect(statuses.login).toBe(401);
    expect(statuses["legacy-wrong-key"]).toBe(401);
    expect(statuses.bearer).toBe(401);
    expect(statuses.legacy).toBeGreaterThanOrEqual(200);
  });

  it("serves Prometheus text with Node runtime series on every process", async () => {
    for (const p of PROCESSES) {
      const { status, type, text } = await scrape(mesh.process(p.name).adminPort);
      expect(status, p.name).toBe(200);
      expect(type).toContain("text/plain");
      for (const series of [
        "nodejs_eventloop_lag_p99_seconds",
        "nodejs_heap_size_used_bytes",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
      ])
        expect(total(text, series), `${p.name} ${series}`).toBeGreaterThan(0);
      expect(text, p.name).toMatch(/process="ostmesh-[a-z]+"/);
      expect(total(text, "ostmesh_ready"), `${p.name} ready`).toBe(1);
      expect(total(text, "ostmesh_readiness_transitions_total"), p.name).toBeGreaterThanOrEqual(0);
    }
  });

  it("counts RPCs per service, method and Connect code, with a latency histogram", async () => {
    const identity = (await scrape(mesh.process("identity").adminPort)).text;
    const login = { service: "osticket.identity.v1.IdentityService", method: "Login" };
    expect(total(identity, "rpc_server_requests_total", { ...login, code: "unauthenticated" })).toBe(1);
    expect(total(identity, "rpc_server_duration_seconds_count", { ...login, code: "unauthenticated" })).toBe(
      1,
    );
    expect(total(identity, "rpc_server_duration_seconds_bucket", { ...login, le: "+Inf" })).toBe(1);
    expect(
      total(identity, "rpc_server_requests_total", { method: "CheckApiKey", code: "ok" }),
    ).toBeGreaterThanOrEqual(1);
    const ticket = (await scrape(mesh.process("ticket").adminPort)).text;
    expect(total(ticket, "rpc_server_requests_total", { method: "CreateTicket" })).toBeGreaterThanOrEqual(1);
    expect(total(ticket, "rpc_server_in_flight", { method: "CreateTicket" })).toBe(0);
  });

  it("exports DB pool, outbox relay and consumer lag series from the services", async () => {
    for (const name of ["ticket", "identity", "attachment", "notification"] as const) {
      const text = (await scrape(mesh.process(name).adminPort)).text;
      expect(total(text, "ostmesh_db_pool_max_connections", { pool: name }), name).toBeGreaterThan(0);
      expect(total(text, "ostmesh_db_pool_connections", { pool: name, state: "idle" }), name).toBeDefined();
      expect(total(text, "ostmesh_db_pool_pending_requests", { pool: name }), name).toBe(0);
    }
    const ticket = (await scrape(mesh.process("ticket").adminPort)).text;
    expect(total(ticket, "ostmesh_outbox_relay_leader")).toBeDefined();
    expect(total(ticket, "ostmesh_outbox_backlog")).toBeDefined();
    expect(total(ticket, "ostmesh_outbox_oldest_unpublished_age_seconds")).toBeDefined();
    // The ticket's event reaches the notification service (through the relay) after the request has answered.
    await vi.waitFor(
      async () => {
        const notification = (await scrape(mesh.process("notification").adminPort)).text;
        const webhooks = { stream: mesh.stream.name, consumer: "notification-webhooks" };
        expect(total(notification, "ostmesh_consumer_pending_messages", webhooks)).toBe(0);
        expect(total(notification, "ostmesh_consumer_ack_pending_messages", webhooks)).toBe(0);
        expect(total(notification, "ostmesh_consumer_info_errors_total", webhooks)).toBeUndefined();
      },
      { timeout: 10_000, interval: 100 },
    );
  });

  it("exports webhook delivery outcomes from the notification service", async () => {
    const notification = (await scrape(mesh.process("notification").adminPort)).text;
    for (const outcome of ["success", "http_error", "timeout", "network_error", "refused", "dead"])
      expect(
        total(notification, "ostmesh_delivery_attempts_total", { channel: "webhook", outcome }),
        outcome,
      ).toBe(0);
    expect(total(notification, "ostmesh_delivery_queued", { channel: "webhook" })).toBe(0);
  });

  it("writes only JSON lines, with trace_id and span_id on lines written inside a span", () => {
    let withTrace = 0;
    for (const p of mesh.processes) {
      for (const line of p
        .output()
        .split("\n")
        .filter((l) => l.trim() !== "")) {
        const entry: unknown = JSON.parse(line);
        expect(typeof entry, `${p.name}: ${line}`).toBe("object");
        if (typeof entry !== "object" || entry === null) continue;
        expect(entry).toHaveProperty("level");
        expect(entry).toHaveProperty("msg");
        if ("rpc" in entry) {
          // RPC lines are written inside the RPC's SERVER span.
          expect(entry, `${p.name}: ${line}`).toHaveProperty("trace_id");
          expect(entry).toHaveProperty("span_id");
        }
        if ("trace_id" in entry) {
          withTrace++;
          expect(String(entry.trace_id)).toMatch(/^[0-9a-f]{32}$/);
          expect("span_id" in entry ? String(entry.span_id) : "").toMatch(/^[0-9a-f]{16}$/);
        }
      }
    }
    expect(withTrace).toBeGreaterThan(3);
  });

  it("never writes the password, the API keys or the bearer token to any process's output", () => {
    const secrets = {
      password: PASSWORD,
      "api key": mesh.apiKey,
      "api key (lower case)": mesh.apiKey.toLowerCase(),
      "wrong api key": WRONG_KEY,
      "bearer token": BEARER,
      "bearer token signature": BEARER.split(".")[2] ?? BEARER,
    };
    for (const p of mesh.processes) {
      const out = p.output();
      expect(out.length, p.name).toBeGreaterThan(0);
      for (const [what, secret] of Object.entries(secrets))
        expect(out.includes(secret), `${what} in ${p.name}'s log`).toBe(false);
    }
  });
});
