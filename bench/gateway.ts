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
 * BENCH_DURATION (seconds per run, default 10). GATEWAY_PID (mesh mode) or the stand-in's own child lets the
 * bench also print the gateway's CPU time per request (contention-independent: 1000 / that = req/s per core). An API key for 127.0.0.1 is inserted into DATABASE_URL's
 * ost_api_key (and removed at the end); GetTicket needs BENCH_TOKEN in mesh mode (e.g. from Login).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { databaseUrl, loadDump, serverConnection } from "@ostmesh/db/testing/scratch.ts";
import autocannon from "autocannon";
import mysql from "mysql2/promise";

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const apiKey = randomBytes(16).toString("hex").toUpperCase();

interface Target {
  url: string;
  /** The gateway's process id, when it runs on this machine (CPU per request is read from /proc). */
  pid?: number;
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
    pid: gateway.process.pid,
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
async function cpuMs(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

async function run(title: string, options: autocannon.Options, pid: number | undefined): Promise<void> {
  const cpuBefore = await cpuMs(pid);
  const result = await autocannon({ duration: DURATION, ...options });
  const cpuAfter = await cpuMs(pid);
  const ok = result["2xx"];
  const bad = result.non2xx + result.errors + result.timeouts;
  const cpu =
    cpuBefore !== undefined && cpuAfter !== undefined && ok > 0
      ? `  gateway CPU ${((cpuAfter - cpuBefore) / (ok + bad)).toFixed(2)} ms/req`
      : "";
  console.log(
    `${title.padEnd(44)} ${String(Math.round(result.requests.average)).padStart(6)} req/s  p50 ${String(result.latency.p50).padStart(4)} ms  p99 ${String(result.latency.p99).padStart(4)} ms  (${ok} ok, ${bad} failed)${cpu}`,
  );
}

const target: Target = process.env.GATEWAY_URL
  ? {
      url: process.env.GATEWAY_URL,
      token: process.env.BENCH_TOKEN,
      databaseUrl: process.env.DATABASE_URL ?? "mysql://root@127.0.0.1:3306/osticket",
      pid: process.env.GATEWAY_PID ? Number(process.env.GATEWAY_PID) : undefined,
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
      target.pid,
    );
  }
  if (target.token) {
    for (const connections of [8, 32]) {
      await run(
        `GetTicket (Connect JSON), ${connections} conns`,
        {
          url: `${target.url}/osticket.ticket.v1.TicketService/GetTicket`,
          method: "POST",
          connections,
          headers: {
            authorization: `Bearer ${target.token}`,
            "content-type": "application/json",
            "connect-protocol-version": "1",
          },
          body: JSON.stringify({ ticketId: 1 }),
        },
        target.pid,
      );
    }
  } else {
    console.log("GetTicket skipped: set BENCH_TOKEN to an access token");
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
