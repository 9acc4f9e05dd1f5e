/**
 * Legacy ticket creates per second through the gateway (POST /api/tickets.json) at 8 and 32 connections,
 * and GetTicket through the gateway (Connect JSON), with p50/p99 latencies from autocannon.
 *
 *   npx node bench/gateway.ts                 stand-in mode: gateway + test upstreams in a child process,
 *                                             on a scratch copy of the fresh install (the edge's own cost)
 *   GATEWAY_URL=http://127.0.0.1:8080 DATABASE_URL=mysql://root@127.0.0.1:3306/osticket \
 *   BENCH_TOKEN=<access token> npx node bench/gateway.ts
 *                                             against a running mesh (npm start): real creates
 *
 * BENCH_DURATION (seconds per run, default 10); BENCH_WARMUP (seconds of unmeasured creates first, default 5). Each run also prints the CPU time per request of every
 * process on this machine that serves it, read from /proc (contention-independent): in mesh mode the mesh's
 * processes (found by their entry points, or GATEWAY_PID for the gateway alone), MariaDB and NATS; in
 * stand-in mode the gateway, the stand-in upstreams and MariaDB. Their sum over the machine's cores is the most
 * requests a second the machine could serve if nothing else ran. An API key for 127.0.0.1 is inserted into
 * DATABASE_URL's ost_api_key (and removed at the end); GetTicket needs BENCH_TOKEN in mesh mode (e.g. from
 * Login); BENCH_API_KEY (an ostmesh key with tickets:read) adds GetTicket with that key.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { readdir, readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { databaseUrl, loadDump, serverConnection } from "@ostmesh/db/testing/scratch.ts";
import autocannon from "autocannon";
import mysql from "mysql2/promise";

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
/** Seconds of unmeasured creates before the figures (BENCH_WARMUP, default 5; 0 for none). */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5);
const apiKey = randomBytes(16).toString("hex").toUpperCase();

interface Target {
  url: string;
  /** The processes serving the requests on this machine, by name (CPU per request is read from /proc). */
  processes: () => Promise<Map<string, number>>;
  token: string | undefined;
  databaseUrl: string;
  stop(): Promise<void>;
}

function child(
  mode: string,
  env: NodeJS.ProcessEnv,
): { process: ChildProcess; ready: Promise<Record<string, string>> } {
  const proc = spawn(
    process.execPath,
    [fileURLToPath(new URL("./gateway-standin.ts", import.meta.url)), mode],
    {
      env,
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const ready = once(createInterface({ input: proc.stdout }), "line").then(([line]) => {
    const parsed: Record<string, string> = JSON.parse(String(line));
    return parsed;
  });
  return { process: proc, ready };
}

async function standIn(): Promise<Target> {
  const name = `ostmesh_bench_gw_${randomBytes(3).toString("hex")}`;
  await loadDump(name);
  const url = databaseUrl(name);
  const upstreams = child("upstreams", { ...process.env, DATABASE_URL: url });
  const urls = await upstreams.ready;
  const gateway = child("gateway", { ...process.env, DATABASE_URL: url, UPSTREAMS: JSON.stringify(urls) });
  const ready = await gateway.ready;
  return {
    url: ready.url ?? "",
    token: urls.token,
    databaseUrl: url,
    processes: async () =>
      new Map([
        ...(gateway.process.pid ? [["gateway", gateway.process.pid] as const] : []),
        ...(upstreams.process.pid ? [["stand-in upstreams", upstreams.process.pid] as const] : []),
        ...(await serverProcesses(["mariadbd", "mysqld"])),
      ]),
    stop: async () => {
      for (const proc of [gateway.process, upstreams.process]) {
        proc.kill("SIGTERM");
        await once(proc, "exit");
      }
      const conn = await serverConnection();
      await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await conn.end();
    },
  };
}

/** CPU time (user + system, ms) a process has used so far, from /proc. */
async function cpuMs(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

/** Every process's command line, from /proc (empty where /proc is not there). */
async function commandLines(): Promise<{ pid: number; argv: string[] }[]> {
  const entries = await readdir("/proc").catch(() => []);
  const found: { pid: number; argv: string[] }[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const line = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (line) found.push({ pid: Number(entry), argv: line.split("\0").filter(Boolean) });
  }
  return found;
}

/** Servers of these programs (e.g. MariaDB, NATS) running on this machine, one each. */
async function serverProcesses(programs: readonly string[]): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const { pid, argv } of await commandLines()) {
    const program = argv[0]?.split("/").at(-1) ?? "";
    if (programs.includes(program) && !found.has(program)) found.set(program, pid);
  }
  return found;
}

/** The mesh's processes on this machine, by their entry points (as `npm start` runs them). */
async function meshProcesses(): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const { pid, argv } of await commandLines()) {
    const entry = argv.find((a) => /(^|\/)(services\/[a-z]+|gateway)\/src\/main\.ts$/.test(a));
    const name = entry?.match(/(?:services\/)?([a-z]+)\/src\/main\.ts$/)?.[1];
    if (name && !found.has(name)) found.set(name, pid);
  }
  if (process.env.GATEWAY_PID) found.set("gateway", Number(process.env.GATEWAY_PID));
  return found;
}

async function cpuOf(processes: Map<string, number>): Promise<Map<string, number>> {
  const used = new Map<string, number>();
  for (const [name, pid] of processes) {
    const ms = await cpuMs(pid);
    if (ms !== undefined) used.set(name, ms);
  }
  return used;
}

async function run(title: string, options: autocannon.Options, target: Target): Promise<void> {
  const processes = await target.processes();
  const cpuBefore = await cpuOf(processes);
  const result = await autocannon({ duration: DURATION, ...options });
  const cpuAfter = await cpuOf(processes);
  const ok = result["2xx"];
  const bad = result.non2xx + result.errors + result.timeouts;
  console.log(
    `${title.padEnd(44)} ${String(Math.round(result.requests.average)).padStart(6)} req/s  p50 ${String(result.latency.p50).padStart(4)} ms  p99 ${String(result.latency.p99).padStart(4)} ms  (${ok} ok, ${bad} failed)`,
  );
  // A refused request is cheap, so a run with refusals measures the refusals, not the calls.
  const limited = result.statusCodeStats?.["429"]?.count ?? 0;
  if (limited > 0) {
    console.log(
      `${" ".repeat(45)}${limited} refused by the gateway's rate limit: start it with GATEWAY_RATE_LIMIT=0`,
    );
  }
  if (ok + bad === 0) return;
  const perRequest: string[] = [];
  let total = 0;
  for (const [name, before] of cpuBefore) {
    const after = cpuAfter.get(name);
    if (after === undefined) continue;
    const ms = (after - before) / (ok + bad);
    total += ms;
    perRequest.push(`${name} ${ms.toFixed(2)}`);
  }
  if (perRequest.length === 0) return;
  const cores = availableParallelism();
  console.log(
    `${"".padEnd(44)} CPU ms/request: ${perRequest.join(", ")}; ${total.toFixed(2)} in all` +
      ` (at most ${Math.round((cores * 1000) / total)}/s on ${cores} cores)`,
  );
}

const target: Target = process.env.GATEWAY_URL
  ? {
      url: process.env.GATEWAY_URL,
      token: process.env.BENCH_TOKEN,
      databaseUrl: process.env.DATABASE_URL ?? "mysql://root@127.0.0.1:3306/osticket",
      processes: async () =>
        new Map([
          ...(await meshProcesses()),
          ...(await serverProcesses(["mariadbd", "mysqld", "nats-server"])),
        ]),
      stop: async () => undefined,
    }
  : await standIn();

const db = await mysql.createConnection({ uri: target.databaseUrl });
await db.query(
  "INSERT INTO ost_api_key SET isactive = 1, ipaddr = '127.0.0.1', apikey = ?, can_create_tickets = 1, can_exec_cron = 1, notes = 'bench', updated = NOW(), created = NOW()",
  [apiKey],
);
// New requesters' mail domains are checked in DNS (osTicket's verify_email_addrs, on by default); the bench
// measures ostmesh, not the resolver (and machines without DNS would refuse every requester), so the check
// is off for the run and put back as it was afterwards.
const [verifySetting] = await db.query<mysql.RowDataPacket[]>(
  "SELECT id, value FROM ost_config WHERE namespace = 'core' AND `key` = 'verify_email_addrs'",
);
if (verifySetting[0]) await db.query("UPDATE ost_config SET value = '0' WHERE id = ?", [verifySetting[0].id]);
else
  await db.query(
    "INSERT INTO ost_config SET namespace = 'core', `key` = 'verify_email_addrs', value = '0', updated = NOW()",
  );
try {
  console.log(
    `gateway ${target.url}, ${DURATION}s per run${process.env.GATEWAY_URL ? "" : " (stand-in upstreams)"}`,
  );
  const body = JSON.stringify({
    email: "bench@example.com",
    name: "Bench User",
    subject: "Load test",
    message: "data:text/plain;base64,SGVsbG8gZnJvbSB0aGUgYmVuY2g=",
    alert: false,
    autorespond: false,
  });
  // Unmeasured first: a fresh process runs its first seconds unoptimized (JIT), with cold pools and caches,
  // which is not how a serving mesh runs. The warm-up's figures are printed, apart, for comparison.
  if (WARMUP > 0) {
    await run(
      `warm-up (${WARMUP}s, not the figures), 8 conns`,
      {
        url: `${target.url}/api/tickets.json`,
        method: "POST",
        connections: 8,
        duration: WARMUP,
        headers: { "x-api-key": apiKey, "content-type": "application/json" },
        body,
      },
      target,
    );
  }
  for (const connections of [8, 32]) {
    await run(
      `legacy POST /api/tickets.json, ${connections} conns`,
      {
        url: `${target.url}/api/tickets.json`,
        method: "POST",
        connections,
        headers: { "x-api-key": apiKey, "content-type": "application/json" },
        body,
      },
      target,
    );
  }
  // GetTicket with an access token, and with an ostmesh API key (BENCH_API_KEY, scope tickets:read).
  const credentials: [string, Record<string, string>][] = [];
  if (target.token) credentials.push(["", { authorization: `Bearer ${target.token}` }]);
  if (process.env.BENCH_API_KEY) credentials.push([", API key", { "x-api-key": process.env.BENCH_API_KEY }]);
  for (const [label, credential] of credentials) {
    for (const connections of [8, 32]) {
      await run(
        `GetTicket (Connect JSON${label}), ${connections} conns`,
        {
          url: `${target.url}/osticket.ticket.v1.TicketService/GetTicket`,
          method: "POST",
          connections,
          headers: {
            ...credential,
            "content-type": "application/json",
            "connect-protocol-version": "1",
          },
          body: JSON.stringify({ ticketId: 1 }),
        },
        target,
      );
    }
  }
  if (!target.token) {
    console.log("GetTicket with an access token skipped: set BENCH_TOKEN to one");
  }
} finally {
  await db.query("DELETE FROM ost_api_key WHERE apikey = ?", [apiKey]);
  if (verifySetting[0])
    await db.query("UPDATE ost_config SET value = ? WHERE id = ?", [
      verifySetting[0].value,
      verifySetting[0].id,
    ]);
  else await db.query("DELETE FROM ost_config WHERE namespace = 'core' AND `key` = 'verify_email_addrs'");
  await db.end();
  await target.stop();
}
