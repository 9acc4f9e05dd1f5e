/**
 * End-to-end harness: the real mesh (every service's main.ts and the gateway's, each its own Node process
 * with the telemetry preload, exactly as `npm start` runs them) against a scratch copy of the fresh osTicket
 * install, per-run NATS stream names, an in-process OTLP/HTTP receiver, and every process's stdout captured.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { freePort } from "@ostmesh/kit/testing/ports.ts";
import mysql from "mysql2/promise";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PRELOAD = "@ostmesh/kit/telemetry/preload.ts";
const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

export const PROCESSES = [
  { name: "ticket", entry: "services/ticket/src/main.ts", env: "TICKET" },
  { name: "identity", entry: "services/identity/src/main.ts", env: "IDENTITY" },
  { name: "attachment", entry: "services/attachment/src/main.ts", env: "ATTACHMENT" },
  { name: "notification", entry: "services/notification/src/main.ts", env: "NOTIFICATION" },
  { name: "gateway", entry: "gateway/src/main.ts", env: "GATEWAY" },
] as const;
export type ProcessName = (typeof PROCESSES)[number]["name"];

/** One span as an OTLP/HTTP JSON export carries it (ids in hex, attributes flattened). */
export interface ReceivedSpan {
  readonly service: string;
  readonly scope: string;
  readonly name: string;
  readonly kind: number;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly status: { readonly code?: number };
  readonly links: readonly { readonly traceId: string; readonly spanId: string }[];
}

/** OTLP span kinds (the protobuf enum, one more than the API's SpanKind). */
export const OTLP_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values?: OtlpValue[] };
}
interface OtlpKeyValue {
  key: string;
  value: OtlpValue;
}
interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: {
      scope?: { name?: string };
      spans?: {
        name: string;
        kind: number;
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        attributes?: OtlpKeyValue[];
        status?: { code?: number };
        links?: { traceId: string; spanId: string }[];
      }[];
    }[];
  }[];
}

function plain(value: OtlpValue): unknown {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(plain);
  return undefined;
}

function attributesOf(list: readonly OtlpKeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((a) => [a.key, plain(a.value)]));
}

export interface OtlpReceiver {
  readonly endpoint: string;
  readonly spans: ReceivedSpan[];
  /** Requests the receiver could not parse (must stay empty). */
  readonly rejected: string[];
  close(): Promise<void>;
}

/** An OTLP/HTTP receiver (JSON encoding, what the mesh's exporter sends) on a free port. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const rejected: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      if (req.url !== "/v1/traces" || !(req.headers["content-type"] ?? "").includes("json")) {
        rejected.push(`${req.method} ${req.url} ${req.headers["content-type"]}`);
        res.writeHead(415).end();
        return;
      }
      try {
        const payload: OtlpExport = JSON.parse(body);
        for (const rs of payload.resourceSpans ?? []) {
          const service = String(attributesOf(rs.resource?.attributes)["service.name"] ?? "");
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                service,
                scope: ss.scope?.name ?? "",
                name: s.name,
                kind: s.kind,
                traceId: s.traceId,
                spanId: s.spanId,
                parentSpanId: s.parentSpanId ?? "",
                attributes: attributesOf(s.attributes),
                status: s.status ?? {},
                links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
              });
            }
          }
        }
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      } catch (error) {
        rejected.push(error instanceof Error ? error.message : String(error));
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    rejected,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface MeshProcess {
  readonly name: ProcessName;
  readonly child: ChildProcess;
  readonly adminPort: number;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
}

export interface Mesh {
  readonly db: ScratchDatabase;
  readonly otlp: OtlpReceiver;
  readonly processes: readonly MeshProcess[];
  /** Public HTTP/1.1 base URL of the gateway. */
  readonly gatewayUrl: string;
  /** A legacy API key (ost_api_key) valid from 127.0.0.1. */
  readonly apiKey: string;
  readonly stream: { readonly name: string; readonly subjectPrefix: string };
  process(name: ProcessName): MeshProcess;
  /**
   * SIGTERMs every process and waits until each has exited: each finishes the work it has under way and
   * flushes its telemetry first, so every span it ended has reached the receiver then.
   */
  stopProcesses(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartMeshOptions {
  label: string;
  /** Extra environment for every process. */
  env?: Record<string, string>;
}

async function ready(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
    await res.text();
    return res.status === 200;
  } catch {
    return false;
  }
}

export async function poll<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts the whole mesh, each process on free ports, and waits until every /readyz is green. */
export async function startMesh(options: StartMeshOptions): Promise<Mesh> {
  const db = await createScratchDatabase({ label: options.label });
  const otlp = await startOtlpReceiver();
  const suffix = `${process.env.OSTMESH_TEST_RUN ?? "run"}_${randomBytes(3).toString("hex")}`;
  const stream = {
    name: `E2E_${options.label.toUpperCase()}_${suffix}`.replace(/[^A-Za-z0-9_-]/g, "_"),
    subjectPrefix: `e2e.${options.label}.${suffix}`.replace(/[^A-Za-z0-9_.]/g, "_"),
  };
  const apiKey = randomBytes(16).toString("hex").toUpperCase();
  const conn = await mysql.createConnection({ uri: db.url });
  await conn.query(
    "INSERT INTO ost_api_key SET isactive = 1, ipaddr = '127.0.0.1', apikey = ?, can_create_tickets = 1, can_exec_cron = 1, notes = 'e2e', updated = NOW(), created = NOW()",
    [apiKey],
  );
  // osTicket's "verify e-mail addresses" (on by default) looks up the requester's mail domain in DNS,
  // which a test machine may not reach: switch it off as an admin would.
  await conn.query(
    "INSERT INTO ost_config (namespace, `key`, value, updated) VALUES ('core', 'verify_email_addrs', '0', NOW())",
  );

  const serviceSecret = randomBytes(24).toString("hex");
  const ticketSecret = randomBytes(24).toString("hex");
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    DATABASE_URL: db.url,
    NATS_URL,
    LOG_LEVEL: "info",
    OSTMESH_BIND_HOST: "127.0.0.1",
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OSTMESH_TRACE_RATIO: "1",
    NATS_EVENTS_STREAM: stream.name,
    NATS_EVENTS_SUBJECT_PREFIX: stream.subjectPrefix,
    // The gateway and the ticket service call other services with service tokens they get from identity
    // with these secrets (the ticket service stores attachments as itself).
    IDENTITY_SERVICE_CLIENTS: `gateway=${serviceSecret},ticket=${ticketSecret}`,
    GATEWAY_SERVICE_SECRET: serviceSecret,
    TICKET_SERVICE_SECRET: ticketSecret,
    IDENTITY_KEY_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    ATTACHMENT_LINK_SECRET: randomBytes(32).toString("hex"),
  };
  const admin = new Map<ProcessName, number>();
  for (const p of PROCESSES) {
    if (p.name === "gateway") {
      env.GATEWAY_PORT = String(await freePort());
      env.GATEWAY_H2C_PORT = String(await freePort());
    } else {
      const port = await freePort();
      env[`${p.env}_PORT`] = String(port);
      env[`${p.env}_URL`] = `http://127.0.0.1:${port}`;
    }
    const adminPort = await freePort();
    env[`${p.env}_ADMIN_PORT`] = String(adminPort);
    admin.set(p.name, adminPort);
  }
  Object.assign(env, options.env);

  const processes: MeshProcess[] = PROCESSES.map((p) => {
    const child = spawn(process.execPath, ["--import", PRELOAD, p.entry], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout?.on("data", (c: Buffer) => {
      output += c.toString();
    });
    child.stderr?.on("data", (c: Buffer) => {
      output += c.toString();
    });
    return { name: p.name, child, adminPort: admin.get(p.name) ?? 0, output: () => output };
  });

  const stopProcesses = async () => {
    for (const p of processes) if (p.child.exitCode === null) p.child.kill("SIGTERM");
    await Promise.all(
      processes.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
            const timer = setTimeout(() => p.child.kill("SIGKILL"), 15_000);
            p.child.once("exit", () => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
  };
  const stop = async () => {
    await stopProcesses();
    await otlp.close();
    await conn.end().catch(() => undefined);
    await deleteStream(stream.name);
    await db.drop();
  };

  try {
    await poll(
      "every process to be ready",
      async () => {
        for (const p of processes) {
          if (p.child.exitCode !== null)
            throw new Error(`${p.name} exited with ${p.child.exitCode}:\n${p.output()}`);
        }
        const states = await Promise.all(processes.map((p) => ready(p.adminPort)));
        return states.every(Boolean) ? true : undefined;
      },
      90_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    db,
    otlp,
    processes,
    gatewayUrl: `http://127.0.0.1:${env.GATEWAY_PORT}`,
    apiKey,
    stream,
    process: (name) => {
      const found = processes.find((p) => p.name === name);
      if (!found) throw new Error(`no process ${name}`);
      return found;
    },
    stopProcesses,
    stop,
  };
}

async function deleteStream(name: string): Promise<void> {
  const { connect } = await import("@nats-io/transport-node");
  const { jetstreamManager } = await import("@nats-io/jetstream");
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(name).catch(() => false);
  } finally {
    await nc.close();
  }
}
