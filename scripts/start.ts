/**
 * `npm start`: the whole mesh on one machine, against MySQL and NATS at DATABASE_URL / NATS_URL.
 *
 *   npm start                      each service and the gateway in its own process (own process group)
 *   npm start -- --single          everything in this one process (in-process transports between services)
 *   OSTMESH_NODE_FLAGS="--cpu-prof" npm start
 *                                  extra node flags for every process of the mesh (profiling, heap limits)
 *   node --import @ostmesh/kit/telemetry/preload.ts scripts/start.ts --services=ticket,identity
 *                                  only these services, in this process (same as OSTMESH_SERVICES=...)
 *
 * The first two bootstrap the database when it is empty (creating it when missing), give the gateway and the
 * ticket service their service secrets and identity the matching IDENTITY_SERVICE_CLIENTS (unless that is
 * set), wait until every /readyz is green, then print the URLs, the admin login and a demo API key. Ctrl-C / SIGTERM stops every
 * process cleanly; a process that dies takes the mesh down with its exit reason.
 *
 * Only pure modules are imported statically: in --single mode the OpenTelemetry loader hook has to be in
 * place before node:http and mysql2 load (see @ostmesh/kit/telemetry/preload.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { configOrExit } from "@ostmesh/kit/config/env.ts";
import {
  isServiceName,
  loadMeshConfig,
  type MeshConfig,
  SERVICE_NAMES,
  type ServiceName,
} from "@ostmesh/kit/config/mesh.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
// Node's compile cache for the processes this launcher starts (unless NODE_COMPILE_CACHE names another
// place): V8's code for every module is kept between runs, keyed by each file's content, so a restart
// compiles only what changed.
const COMPILE_CACHE = `${ROOT}node_modules/.cache/ostmesh-compile`;
const PRELOAD = "@ostmesh/kit/telemetry/preload.ts";
/** Where Debian's and Ubuntu's MySQL and MariaDB servers listen locally. */
const LOCAL_MYSQL_SOCKET = "/run/mysqld/mysqld.sock";
/** How long start-up may take before the mesh gives up (bootstrapping an empty database included). */
const READY_TIMEOUT_MS = 90_000;

function say(line: string): void {
  process.stderr.write(`ostmesh: ${line}\n`);
}

function fail(line: string, code = 1): never {
  say(line);
  process.exit(code);
}

function parseCommandLine(): { single: boolean; services: ServiceName[] | undefined } {
  let values: { single?: boolean; services?: string };
  try {
    ({ values } = parseArgs({ options: { single: { type: "boolean" }, services: { type: "string" } } }));
  } catch (error) {
    const problem = error instanceof Error ? error.message : String(error);
    fail(`${problem} (usage: start.ts [--single | --services=ticket,identity])`, 64);
  }
  const single = values.single === true;
  if (values.services === undefined) return { single, services: undefined };
  const services: ServiceName[] = [];
  for (const item of values.services.split(",").map((s) => s.trim())) {
    if (item === "") continue;
    if (!isServiceName(item))
      fail(`--services: unknown service "${item}" (known: ${SERVICE_NAMES.join(", ")})`, 64);
    if (!services.includes(item)) services.push(item);
  }
  if (services.length === 0) fail("--services needs at least one service", 64);
  return { single, services };
}

// ---------------------------------------------------------------------------------------------------------
// Service credentials

/**
 * The processes that call others on their own behalf (the gateway: API-key checks, the legacy API's system
 * log and forms, downloads; the ticket service: storing attachments) need a service secret that identity
 * lists in IDENTITY_SERVICE_CLIENTS. When the mesh runs from this launcher and the operator has not set
 * IDENTITY_SERVICE_CLIENTS, both sides are filled in here: a secret already in the environment is used, a
 * missing one is generated for this run (tokens are short-lived, so nothing needs to survive a restart).
 */
function provideServiceCredentials(env: NodeJS.ProcessEnv): void {
  if (env.IDENTITY_SERVICE_CLIENTS) return;
  const secret = () => randomBytes(32).toString("base64url");
  env.GATEWAY_SERVICE_SECRET ||= secret();
  env.TICKET_SERVICE_SECRET ||= secret();
  const gateway = env.GATEWAY_SERVICE_NAME || "gateway";
  env.IDENTITY_SERVICE_CLIENTS = `${gateway}=${env.GATEWAY_SERVICE_SECRET},ticket=${env.TICKET_SERVICE_SECRET}`;
}

// ---------------------------------------------------------------------------------------------------------
// Database bootstrap and what to print

interface Credentials {
  admin: string;
  apiKey: string;
}

async function bootstrap(config: MeshConfig): Promise<Credentials> {
  const { bootstrapDatabase } = await import("@ostmesh/db");
  const result = await bootstrapDatabase({
    url: config.databaseUrl,
    logger: { info: (message) => say(message) },
  });
  if (result.created) {
    return {
      admin: `${result.admin.username} / ${result.admin.password ?? "(as set at install)"}`,
      apiKey: result.apiKey ?? "(none)",
    };
  }
  return {
    admin: `${result.admin.username || "(an admin agent)"} / (the password set at install)`,
    apiKey:
      (await existingApiKey(config.databaseUrl)) ??
      "(none yet: add one in osTicket's admin panel, Manage > API)",
  };
}

async function existingApiKey(databaseUrl: string): Promise<string | undefined> {
  const { default: mysql } = await import("mysql2/promise");
  const conn = await mysql.createConnection({ uri: databaseUrl });
  try {
    const [rows] = await conn.query<import("mysql2/promise").RowDataPacket[]>(
      "SELECT apikey, ipaddr FROM ost_api_key WHERE isactive = 1 ORDER BY id LIMIT 1",
    );
    const row = rows[0];
    return row ? `${String(row.apikey)} (valid from ${String(row.ipaddr)})` : undefined;
  } finally {
    await conn.end();
  }
}

function printReady(
  config: MeshConfig,
  credentials: Credentials,
  startedAt: number,
  mode: { label: string; servicesAdminPort?: number },
): void {
  const local = (port: number) => `http://127.0.0.1:${port}`;
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
  const lines = [
    "",
    `ostmesh is ready (${mode.label}, ${seconds}s)`,
    `  gateway        ${local(config.gateway.port)}   HTTP/1.1: Connect, gRPC-Web, legacy /api/tickets.json`,
    `                 h2c://127.0.0.1:${config.gateway.h2cPort}   gRPC`,
    `  gateway admin  ${local(config.gateway.adminPort)}/readyz  /metrics`,
    ...SERVICE_NAMES.map(
      (s) =>
        `  ${s.padEnd(13)}  ${config.services[s].url}   admin ${local(mode.servicesAdminPort ?? config.services[s].adminPort)}/readyz`,
    ),
    `  admin login    ${credentials.admin}`,
    `  demo API key   ${credentials.apiKey}`,
    `  try            curl -s ${local(config.gateway.adminPort)}/readyz`,
    "Ctrl-C stops everything.",
    "",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function waitReady(
  endpoints: readonly { name: string; port: number }[],
  stillRunning: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const pending = new Map(endpoints.map((e) => [e.name, e.port]));
  let lastReason = new Map<string, string>();
  while (pending.size > 0) {
    const dead = stillRunning();
    if (dead) throw new Error(dead);
    if (Date.now() > deadline) {
      const why = [...pending.keys()].map((n) => `${n}: ${lastReason.get(n) ?? "no answer"}`).join("; ");
      throw new Error(`not ready after ${READY_TIMEOUT_MS / 1000}s (${why})`);
    }
    const reasons = new Map<string, string>();
    await Promise.all(
      [...pending].map(async ([name, port]) => {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(3000) });
          const text = await res.text();
          if (res.status === 200) pending.delete(name);
          else reasons.set(name, text.trim());
        } catch (error) {
          reasons.set(name, error instanceof Error ? error.message : String(error));
        }
      }),
    );
    lastReason = reasons;
    if (pending.size > 0) await sleep(200);
  }
}

// ---------------------------------------------------------------------------------------------------------
// One process per service

interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

function describeExit(child: Child): string {
  const exit = child.exit;
  if (!exit) return `${child.name} is running`;
  return exit.signal
    ? `${child.name} was killed by ${exit.signal}`
    : `${child.name} exited with code ${exit.code}`;
}

/**
 * Refuses to start over another listener (e.g. a mesh already running): its /readyz would answer for ours,
 * and the processes this launcher starts would fail to bind only after "ready" was printed.
 */
async function assertPortsFree(config: MeshConfig, services: readonly ServiceName[]): Promise<void> {
  const ports = [
    { name: "gateway", port: config.gateway.port },
    { name: "gateway (h2c)", port: config.gateway.h2cPort },
    { name: "gateway admin", port: config.gateway.adminPort },
    ...services.flatMap((s) => [
      { name: s, port: config.services[s].port },
      { name: `${s} admin`, port: config.services[s].adminPort },
    ]),
  ];
  const { createServer } = await import("node:net");
  const taken: string[] = [];
  for (const { name, port } of ports) {
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen({ port, host: config.bindHost, exclusive: true }, () =>
        server.close(() => resolve(true)),
      );
    });
    if (!free) taken.push(`${port} (${name})`);
  }
  if (taken.length)
    fail(
      `port${taken.length > 1 ? "s" : ""} ${taken.join(", ")} already in use on ${config.bindHost}:` +
        " is a mesh already running? Stop it, or choose other ports (README, configuration)",
      69,
    );
}

async function runMultiProcess(config: MeshConfig): Promise<void> {
  const startedAt = performance.now();
  await assertPortsFree(config, SERVICE_NAMES);
  // Extra node flags for every process, e.g. OSTMESH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof"
  // (flags NODE_OPTIONS refuses).
  const nodeFlags = (process.env.OSTMESH_NODE_FLAGS ?? "").split(/\s+/).filter(Boolean);
  const credentials = await bootstrap(config);
  const entries: { name: string; entry: string }[] = [
    ...SERVICE_NAMES.map((name) => ({ name, entry: `services/${name}/src/main.ts` })),
    { name: "gateway", entry: "gateway/src/main.ts" },
  ];
  const children: Child[] = entries.map(({ name, entry }) => {
    const proc = spawn(process.execPath, [...nodeFlags, "--import", PRELOAD, entry], {
      cwd: ROOT,
      // Own process group: the terminal's Ctrl-C reaches only this launcher, which stops the mesh in order,
      // and stopping kills the whole group (whatever a service may have spawned).
      detached: true,
      stdio: ["ignore", "inherit", "inherit"],
      env: { NODE_COMPILE_CACHE: COMPILE_CACHE, ...process.env },
    });
    const child: Child = { name, process: proc };
    proc.once("exit", (code, signal) => {
      child.exit = { code, signal };
    });
    return child;
  });

  let stopping = false;
  const stop = async (exitCode: number, reason: string): Promise<never> => {
    if (stopping) return new Promise<never>(() => undefined);
    stopping = true;
    say(`stopping the mesh (${reason})`);
    await stopChildren(children, config.timing.shutdownGraceMs + 5000);
    say("stopped");
    process.exit(exitCode);
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      for (const child of children) killGroup(child, "SIGKILL");
      process.exit(130);
    }
    void stop(0, signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const firstDeath = () => children.find((c) => c.exit !== undefined);
  try {
    await waitReady(
      [
        ...SERVICE_NAMES.map((s) => ({ name: s, port: config.services[s].adminPort })),
        { name: "gateway", port: config.gateway.adminPort },
      ],
      () => {
        const dead = firstDeath();
        return dead ? `${describeExit(dead)} during start-up` : undefined;
      },
    );
  } catch (error) {
    await stop(1, error instanceof Error ? error.message : String(error));
  }
  printReady(config, credentials, startedAt, { label: `${children.length} processes` });

  // A process that dies takes the mesh down with its reason.
  await new Promise<void>((resolve) => {
    for (const child of children) {
      child.process.once("exit", () => {
        if (!stopping) resolve();
      });
      if (child.exit) resolve();
    }
  });
  const dead = firstDeath();
  await stop(1, dead ? describeExit(dead) : "a process exited");
}

function killGroup(child: Child, signal: NodeJS.Signals): void {
  const pid = child.process.pid;
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

function groupAlive(child: Child): boolean {
  const pid = child.process.pid;
  if (pid === undefined) return false;
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGTERM the gateway's process group first and let it drain, so no new traffic reaches services that are
 * draining; then the services'. Whatever is still alive when `graceMs` is over gets SIGKILL.
 */
async function stopChildren(children: readonly Child[], graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  const waves = [children.filter((c) => c.name === "gateway"), children.filter((c) => c.name !== "gateway")];
  for (const wave of waves) {
    for (const child of wave) killGroup(child, "SIGTERM");
    while (Date.now() < deadline && wave.some(groupAlive)) await sleep(50);
  }
  for (const child of children) {
    if (groupAlive(child)) {
      say(`${child.name} did not stop within ${graceMs}ms; killing it`);
      killGroup(child, "SIGKILL");
    }
  }
  while (children.some(groupAlive)) await sleep(20);
}

// ---------------------------------------------------------------------------------------------------------
// Everything in this process

async function loadServices(names: readonly ServiceName[]) {
  const modules = {
    ticket: () => import("@ostmesh/ticket"),
    identity: () => import("@ostmesh/identity"),
    attachment: () => import("@ostmesh/attachment"),
    notification: () => import("@ostmesh/notification"),
  } satisfies Record<ServiceName, () => Promise<unknown>>;
  return Promise.all(
    names.map(async (name) => {
      const module = await modules[name]();
      return { name, register: module.register, needsBus: "needsBus" in module && module.needsBus === true };
    }),
  );
}

async function runInProcess(
  config: MeshConfig,
  names: readonly ServiceName[],
  withGateway: boolean,
): Promise<void> {
  const startedAt = performance.now();
  await import(PRELOAD); // no-op when node was started with --import of it already
  const credentials = withGateway ? await bootstrap(config) : undefined;
  const kit = await import("@ostmesh/kit");
  const logger = kit.createLogger({
    service: config.telemetry.serviceName ?? "ostmesh",
    level: config.logLevel,
  });
  const topology = new kit.Topology(config, names);
  const services = await kit.runServices({
    name: "ostmesh",
    services: await loadServices(names),
    config,
    logger,
    topology,
    handleSignals: false,
  });
  const { startGateway } = await import("@ostmesh/gateway/server.ts");
  const gateway = withGateway
    ? await startGateway({
        config,
        logger: logger.child({ component: "gateway" }),
        topology,
        handleSignals: false,
      }).catch((error: unknown) => {
        logger.fatal({ err: error }, "gateway failed to start");
        return services.shutdown("gateway failed to start").then(() => process.exit(1));
      })
    : undefined;

  kit.exitOnSignals(async (signal) => {
    await gateway?.shutdown(signal);
    await services.shutdown(signal);
  }, logger);

  if (!withGateway || !credentials) return;
  try {
    await waitReady(
      [
        { name: "services", port: services.ports.admin },
        { name: "gateway", port: config.gateway.adminPort },
      ],
      () => undefined,
    );
  } catch (error) {
    say(error instanceof Error ? error.message : String(error));
    await gateway?.shutdown("not ready");
    await services.shutdown("not ready");
    process.exit(1);
  }
  printReady(config, credentials, startedAt, {
    label: "one process",
    servicesAdminPort: services.ports.admin,
  });
}

// ---------------------------------------------------------------------------------------------------------

const args = parseCommandLine();
// The whole mesh on one machine with MySQL beside it: its Unix socket costs less per statement than TCP.
if (process.env.DATABASE_URL === undefined && existsSync(LOCAL_MYSQL_SOCKET))
  process.env.DATABASE_URL = `mysql://root@localhost/osticket?socketPath=${LOCAL_MYSQL_SOCKET}`;
const config = configOrExit(() => loadMeshConfig(), "ostmesh");
const hostOnly = args.services ?? config.hostedServices;
if (args.single && hostOnly)
  fail("--single runs every service; do not combine it with --services / OSTMESH_SERVICES", 64);
// The whole mesh from this launcher: it can give both sides of each service credential the same value.
if (args.single || !hostOnly) provideServiceCredentials(process.env);
try {
  if (args.single) await runInProcess(config, SERVICE_NAMES, true);
  else if (hostOnly) await runInProcess(config, hostOnly, false);
  else await runMultiProcess(config);
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
