import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { freePort } from "@ostmesh/kit/testing/ports.ts";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** How long to wait for output a child wrote before it exited. */
const OUTPUT_WAIT = { timeout: 10_000, interval: 20 };
const SERVICES = ["TICKET", "IDENTITY", "ATTACHMENT", "NOTIFICATION"] as const;

interface MeshPorts {
  env: Record<string, string>;
  all: number[];
  gatewayAdmin: number;
  serviceAdmin: number[];
}

async function meshPorts(): Promise<MeshPorts> {
  const env: Record<string, string> = {};
  const all: number[] = [];
  const take = async (name: string) => {
    const port = await freePort();
    env[name] = String(port);
    all.push(port);
    return port;
  };
  await take("GATEWAY_PORT");
  await take("GATEWAY_H2C_PORT");
  const gatewayAdmin = await take("GATEWAY_ADMIN_PORT");
  const serviceAdmin: number[] = [];
  for (const s of SERVICES) {
    await take(`${s}_PORT`);
    serviceAdmin.push(await take(`${s}_ADMIN_PORT`));
  }
  return { env, all, gatewayAdmin, serviceAdmin };
}

/** Resolves true when something accepts a TCP connection on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

interface Mesh {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startMesh(args: string[], env: Record<string, string>): Mesh {
  const child = spawn(process.execPath, ["scripts/start.ts", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, LOG_LEVEL: "warn", OSTMESH_BIND_HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    output += c.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => output, exited };
}

async function waitFor(mesh: Mesh, text: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!mesh.output().includes(text)) {
    if (mesh.child.exitCode !== null) throw new Error(`mesh exited before "${text}":\n${mesh.output()}`);
    if (Date.now() > deadline) throw new Error(`no "${text}" after ${ms}ms:\n${mesh.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function childrenOf(pid: number): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
}

function processGroup(pid: number): number {
  return Number(execFileSync("ps", ["-o", "pgid=", "-p", String(pid)], { encoding: "utf8" }).trim());
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function readyz(port: number): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: await res.text() };
}

/**
 * POST /api/tickets.json with `key` and a small attachment; returns the status and the files stored for
 * the new ticket. New requesters' domains are not looked up (the test machine has no DNS).
 */
async function legacyCreate(
  gatewayPort: string,
  key: string,
  databaseUrl: string,
): Promise<{ status: number; body: string; files: { name: string; size: number }[] }> {
  const conn = await mysql.createConnection({ uri: databaseUrl });
  try {
    await conn.query(
      "INSERT INTO ost_config (namespace, `key`, value, updated) VALUES ('core', 'verify_email_addrs', '0', NOW()) ON DUPLICATE KEY UPDATE value = '0'",
    );
    const res = await fetch(`http://127.0.0.1:${gatewayPort}/api/tickets.json`, {
      method: "POST",
      headers: { "x-api-key": key },
      body: JSON.stringify({
        email: "start@example.com",
        name: "Start Test",
        subject: "npm start",
        message: "created through the launcher's mesh",
        attachments: [{ "hello.txt": "data:text/plain;base64,aGVsbG8=" }],
      }),
    });
    const body = await res.text();
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      "SELECT f.name, f.size FROM ost_ticket t JOIN ost_thread th ON th.object_type = 'T' AND th.object_id = t.ticket_id JOIN ost_thread_entry e ON e.thread_id = th.id JOIN ost_attachment a ON a.type = 'H' AND a.object_id = e.id JOIN ost_file f ON f.id = a.file_id WHERE t.number = ?",
      [body],
    );
    return {
      status: res.status,
      body,
      files: rows.map((r) => ({ name: String(r.name), size: Number(r.size) })),
    };
  } finally {
    await conn.end();
  }
}

describe("npm start", () => {
  let db: ScratchDatabase;

  beforeAll(async () => {
    db = await createScratchDatabase({ from: "empty", label: "start" });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("bootstraps an empty database, runs every process, and stops cleanly on SIGTERM", async () => {
    const ports = await meshPorts();
    const mesh = startMesh([], { ...ports.env, DATABASE_URL: db.url });
    try {
      await waitFor(mesh, "ostmesh is ready");
      const out = mesh.output();
      expect(out).toContain("installed a fresh osTicket helpdesk");
      expect(out).toMatch(/admin login {4}ostadmin \/ \S{12,}/);
      expect(out).toMatch(/demo API key {3}[0-9A-F]{32}/);
      expect(out).toContain(`http://127.0.0.1:${ports.env.GATEWAY_PORT}`);

      const gateway = await readyz(ports.gatewayAdmin);
      expect(gateway.status).toBe(200);
      for (const name of ["ticket", "identity", "attachment", "notification"]) {
        expect(gateway.body).toContain(`"name":"${name}","ok":true`);
      }
      for (const port of ports.serviceAdmin) expect((await readyz(port)).status).toBe(200);

      // The service credentials the launcher wired: the printed key creates a ticket through the legacy API
      // (the gateway's token checks the key and reads the forms), with a file the ticket service stores
      // through the attachment service with its own token.
      const key = /demo API key {3}([0-9A-F]{32})/.exec(out)?.[1] ?? "";
      expect(await legacyCreate(ports.env.GATEWAY_PORT ?? "", key, db.url)).toMatchObject({
        status: 201,
        files: [{ name: "hello.txt", size: 5 }],
      });

      // Five processes (four services and the gateway), each the leader of its own process group.
      const pid = mesh.child.pid ?? 0;
      const children = childrenOf(pid);
      expect(children).toHaveLength(5);
      for (const child of children) expect(processGroup(child)).toBe(child);

      mesh.child.kill("SIGTERM");
      expect(await mesh.exited).toEqual({ code: 0, signal: null });
      // A child's last output may be read after its exit is seen.
      await vi.waitFor(() => expect(mesh.output()).toContain("ostmesh: stopped"), OUTPUT_WAIT);
      for (const child of children) expect(alive(child), `process ${child}`).toBe(false);
      for (const port of ports.all) expect(await listening(port), `port ${port}`).toBe(false);
    } finally {
      mesh.child.kill("SIGKILL");
    }
  });

  it("goes down with the exit reason when one of its processes dies", async () => {
    const ports = await meshPorts();
    const mesh = startMesh([], { ...ports.env, DATABASE_URL: db.url });
    try {
      await waitFor(mesh, "ostmesh is ready");
      // The database was installed by the test above: it is left as it is.
      expect(mesh.output()).toContain("admin login    ostadmin / (the password set at install)");
      const children = childrenOf(mesh.child.pid ?? 0);
      const victim = children.find((pid) =>
        execFileSync("ps", ["-o", "args=", "-p", String(pid)], { encoding: "utf8" }).includes(
          "services/identity/",
        ),
      );
      expect(victim).toBeDefined();
      process.kill(victim ?? 0, "SIGKILL");
      expect((await mesh.exited).code).toBe(1);
      await vi.waitFor(
        () => expect(mesh.output()).toContain("stopping the mesh (identity was killed by SIGKILL)"),
        OUTPUT_WAIT,
      );
      for (const child of children) expect(alive(child), `process ${child}`).toBe(false);
      for (const port of ports.all) expect(await listening(port), `port ${port}`).toBe(false);
    } finally {
      mesh.child.kill("SIGKILL");
    }
  });

  it("runs the whole mesh in one process with --single", async () => {
    const ports = await meshPorts();
    const mesh = startMesh(["--single"], { ...ports.env, DATABASE_URL: db.url });
    try {
      await waitFor(mesh, "ostmesh is ready (one process");
      expect(childrenOf(mesh.child.pid ?? 0)).toEqual([]);
      const gateway = await readyz(ports.gatewayAdmin);
      expect(gateway.status).toBe(200);
      expect(gateway.body).toContain('"name":"notification","ok":true');
      expect((await readyz(ports.serviceAdmin[0] ?? 0)).status).toBe(200);
      const key = /demo API key {3}([0-9A-F]{32})/.exec(mesh.output())?.[1] ?? "";
      expect((await legacyCreate(ports.env.GATEWAY_PORT ?? "", key, db.url)).status).toBe(201);
      mesh.child.kill("SIGINT");
      expect(await mesh.exited).toEqual({ code: 0, signal: null });
      for (const port of ports.all) expect(await listening(port), `port ${port}`).toBe(false);
    } finally {
      mesh.child.kill("SIGKILL");
    }
  });

  it("refuses to start over a port already in use, naming it, before it touches the database", async () => {
    const ports = await meshPorts();
    const taken = Number(ports.env.TICKET_ADMIN_PORT);
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(taken, "127.0.0.1", resolve));
    try {
      // A database URL nothing answers: the check comes first.
      const mesh = startMesh([], { ...ports.env, DATABASE_URL: "mysql://root@127.0.0.1:1/none" });
      expect((await mesh.exited).code).toBe(69);
      await vi.waitFor(
        () => expect(mesh.output()).toContain(`port ${taken} (ticket admin) already in use on 127.0.0.1`),
        OUTPUT_WAIT,
      );
      for (const port of ports.all.filter((p) => p !== taken)) expect(await listening(port)).toBe(false);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it("refuses a bad command line", async () => {
    const mesh = startMesh(["--services=ticket,billing"], {});
    expect((await mesh.exited).code).toBe(64);
    await vi.waitFor(
      () =>
        expect(mesh.output()).toBe(
          'ostmesh: --services: unknown service "billing" (known: ticket, identity, attachment, notification)\n',
        ),
      OUTPUT_WAIT,
    );
  });
});
