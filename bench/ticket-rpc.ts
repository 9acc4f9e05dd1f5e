/**
 * Requests per second and latency of the ticket service's main RPCs against a seeded database:
 *
 *   npx node bench/seed-tickets.ts 100000 --url=mysql://root@127.0.0.1:3306/ostmesh_bench --fresh --indexes
 *   npx node bench/ticket-rpc.ts [--url=mysql://root@127.0.0.1:3306/ostmesh_bench] [--seconds=10]
 *                                [--concurrency=16] [--only=get,list,search,create,reply] [--no-relay]
 *                                [--queries=word,"a phrase",+both +words]
 *
 * The service runs in this process exactly as in production — its own pool, the outbox relay publishing to a
 * private in-memory JetStream stream (deleted at the end), behind the real auth interceptor — and is called
 * over h2c with a gRPC client. Reads are made by osTicket's admin agent (department access checked, tokens
 * revalidated against the database on every call, as deployed); creates by a SERVICE principal, as the
 * gateway makes them. Each phase runs `seconds` with `concurrency` calls in flight and prints calls/s, p50
 * and p99. CreateTicket makes real tickets (new requesters, text bodies) and PostReply (not in the default
 * set) adds an agent's reply to random tickets; run those last or on a copy.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { create } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { connectBus, eventStream } from "@ostmesh/bus";
import { createOrm, query } from "@ostmesh/db";
import { startServiceProcess } from "@ostmesh/kit";
import { authInterceptor, loadAgentPrincipal, mysqlQuery, type SqlQuery } from "@ostmesh/kit/auth/index.ts";
import { createTestIssuer } from "@ostmesh/kit/auth/testing/issuer.ts";
import { silentLogger, testConfig } from "@ostmesh/kit/testing/harness.ts";
import { TicketService } from "@ostmesh/proto";
import { PrincipalKind, PrincipalSchema } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { TicketState } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { ticketService } from "@ostmesh/ticket";

const { values: args } = parseArgs({
  options: {
    url: { type: "string", default: process.env.DATABASE_URL ?? "mysql://root@127.0.0.1:3306/ostmesh_bench" },
    seconds: { type: "string", default: "10" },
    concurrency: { type: "string", default: "16" },
    only: { type: "string", default: "get,list,search,create" },
    "no-relay": { type: "boolean", default: false },
    /** Comma-separated search texts instead of the default mix. */
    queries: { type: "string" },
  },
});
const seconds = Number(args.seconds);
const concurrency = Number(args.concurrency);
const phases = new Set(args.only.split(","));

// ---- what to ask for: ids, numbers and words that exist in the seeded data ----

const orm = await createOrm({ url: args.url, pool: { max: 2 } });
const q: SqlQuery = (sql, params = []) => query(orm.em.fork(), sql, params);
const authDb = mysqlQuery(args.url);
const [{ n: ticketCount = 0, lo = 0, hi = 0 } = {}] = (await q(
  "SELECT COUNT(*) AS n, MIN(ticket_id) AS lo, MAX(ticket_id) AS hi FROM ost_ticket",
)) as { n?: number; lo?: number; hi?: number }[];
if (!ticketCount) {
  console.error(`no tickets in ${args.url}: run bench/seed-tickets.ts first`);
  process.exit(1);
}
// Helpdesk terms (each in 1-3 % of the indexed rows), rare codes (well under 1 %), a phrase and a conjunction.
const defaultQueries = [
  "printer",
  "invoice",
  "vpn",
  "toner",
  "zeta2400",
  "kilo4201",
  "quix1234",
  "nova3001",
  '"password reset"',
  "+printer +toner",
];
const searchWords = args.queries ? args.queries.split(",") : defaultQueries;
const admin = await loadAgentPrincipal(q, 1);
if (!admin) throw new Error("agent 1 is not active");

// ---- the service ----

const issuer = await createTestIssuer();
const tag = randomBytes(3).toString("hex");
const stream = eventStream({
  name: `BENCH_${tag}`,
  subjectPrefix: `bench_${tag}.events`,
  storage: "memory",
  maxBytes: 512 * 1024 * 1024,
});
const proc = await startServiceProcess({
  name: "ostmesh-ticket-bench",
  config: testConfig({ DATABASE_URL: args.url, LOG_LEVEL: "silent" }),
  logger: silentLogger(),
  services: [
    {
      name: "ticket",
      register: ticketService({
        env: { ...process.env, TICKET_OUTBOX_RELAY: args["no-relay"] ? "false" : "true" },
        stream,
      }),
    },
  ],
  // The interceptor reads through its own small pool, as createMeshAuth gives every deployed service.
  interceptors: [authInterceptor({ tokens: issuer.verifier, db: authDb.query })],
  listen: { h2c: [0], admin: 0, host: "127.0.0.1" },
  handleSignals: false,
});
const session = new Http2SessionManager(`http://127.0.0.1:${proc.ports.h2c[0]}`);
const client: Client<typeof TicketService> = createClient(
  TicketService,
  // As the mesh's own processes call it (OSTMESH_RPC_COMPRESSION off): answers are not compressed.
  createGrpcTransport({
    baseUrl: `http://127.0.0.1:${proc.ports.h2c[0]}`,
    sessionManager: session,
    acceptCompression: [],
  }),
);
const agentHeaders = new Headers({ authorization: `Bearer ${await issuer.sign(admin, { ttlSec: 3600 })}` });
const serviceHeaders = new Headers({
  authorization: `Bearer ${await issuer.sign(
    create(PrincipalSchema, {
      actor: { kind: PrincipalKind.SERVICE, username: "gateway", displayName: "gateway" },
      scopes: ["tickets:read", "tickets:create", "tickets:write"],
    }),
    { ttlSec: 3600 },
  )}`,
});

// ---- measuring ----

interface Result {
  name: string;
  calls: number;
  errors: number;
  perSecond: number;
  p50: number;
  p99: number;
  /** This process's CPU (service, client and relay together) per call, in ms: contention-independent. */
  cpuMs: number;
}

async function phase(name: string, call: (i: number) => Promise<unknown>): Promise<Result> {
  // Warm up pools, caches and JIT.
  for (let i = 0; i < concurrency; i++) await call(i).catch(() => undefined);
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  let firstError: unknown;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const i = next++;
        const t = performance.now();
        try {
          await call(i);
          latencies.push(performance.now() - t);
        } catch (error) {
          errors++;
          firstError ??= error;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  if (firstError) console.error(`${name}: first error: ${String(firstError)}`);
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return {
    name,
    calls: latencies.length,
    errors,
    perSecond: latencies.length / elapsed,
    p50: at(0.5),
    p99: at(0.99),
    cpuMs: (cpu.user + cpu.system) / 1000 / Math.max(1, latencies.length + errors),
  };
}

const randomId = () => lo + Math.floor(Math.random() * (hi - lo + 1));
const results: Result[] = [];
/** SearchTickets: the first call of each distinct query. */
const firstSearches: { text: string; ms: number }[] = [];
try {
  if (phases.has("get"))
    results.push(
      await phase("GetTicket", () =>
        client
          .getTicket({ lookup: { case: "ticketId", value: randomId() } }, { headers: agentHeaders })
          .catch((e) => {
            // Ids between MIN and MAX may be gaps (deleted tickets): those are answers too.
            if (String(e).includes("not_found") || String(e).includes("not found")) return;
            throw e;
          }),
      ),
    );
  if (phases.has("list")) {
    const token = (await client.listTickets({ pageSize: 50 }, { headers: agentHeaders })).nextPageToken;
    const variants = [
      () => client.listTickets({ pageSize: 50 }, { headers: agentHeaders }),
      () =>
        client.listTickets(
          { pageSize: 50, filter: { states: [TicketState.OPEN] } },
          { headers: agentHeaders },
        ),
      () => client.listTickets({ pageSize: 50, filter: { deptIds: [2] } }, { headers: agentHeaders }),
      () => client.listTickets({ pageSize: 50, pageToken: token }, { headers: agentHeaders }),
    ];
    results.push(
      await phase(
        "ListTickets",
        (i) => (variants[i % variants.length] ?? variants[0])?.() ?? Promise.resolve(),
      ),
    );
  }
  if (phases.has("search")) {
    const search = (text: string) =>
      client.searchTickets({ query: text, pageSize: 50 }, { headers: agentHeaders });
    // Each query's first call, before the service has seen it (what most searches of a real helpdesk are:
    // a text asked once), one at a time, after one search of a word nothing holds (pools and JIT warmed);
    // the phase then measures repeated queries.
    await search("qqwarmupqq");
    for (const text of new Set(searchWords)) {
      const t = performance.now();
      await search(text);
      firstSearches.push({ text, ms: performance.now() - t });
    }
    results.push(
      await phase("SearchTickets", (i) => search(searchWords[i % searchWords.length] ?? "printer")),
    );
  }
  if (phases.has("reply"))
    results.push(
      await phase("PostReply", () =>
        client
          .postReply(
            { ticketId: randomId(), body: "Thanks, we are looking into it." },
            { headers: agentHeaders },
          )
          .catch((e) => {
            // Ids between MIN and MAX may be gaps (deleted tickets): those are answers too.
            if (String(e).includes("not_found") || String(e).includes("not found")) return;
            throw e;
          }),
      ),
    );
  if (phases.has("create"))
    results.push(
      await phase("CreateTicket", (i) =>
        client.createTicket(
          {
            requester: { email: `bench.${tag}.${i}@example.com`, name: `Bench ${i}` },
            subject: `Bench ticket ${i}`,
            message: "The printer on floor 3 is out of toner again.",
            ipAddress: "203.0.113.50",
          },
          { headers: serviceHeaders },
        ),
      ),
    );
} finally {
  session.abort();
  await proc.shutdown("bench done");
  const bus = await connectBus({
    url: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
    name: "ticket-bench-cleanup",
  });
  await bus.jsm.streams.delete(stream.name).catch(() => false);
  await bus.close();
  await authDb.close();
  await orm.close(true);
}

console.log(
  `\n${ticketCount} tickets in ${new URL(args.url).pathname.slice(1)}; ${concurrency} calls in flight, ${seconds} s per RPC`,
);
console.log("RPC              calls/s      p50 ms     p99 ms   calls  errors  CPU ms/call");
for (const r of results)
  console.log(
    `${r.name.padEnd(15)} ${r.perSecond.toFixed(0).padStart(8)} ${r.p50.toFixed(1).padStart(10)} ${r.p99.toFixed(1).padStart(10)} ${String(r.calls).padStart(7)} ${String(r.errors).padStart(7)} ${r.cpuMs.toFixed(2).padStart(12)}`,
  );
if (firstSearches.length > 0) {
  const sorted = firstSearches.map((f) => f.ms).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  console.log(
    `\nSearchTickets, each query's first call (one at a time): median ${median.toFixed(1)} ms, slowest ${(sorted[sorted.length - 1] ?? 0).toFixed(1)} ms`,
  );
  for (const f of firstSearches) console.log(`  ${f.text.padEnd(24)} ${f.ms.toFixed(1).padStart(8)} ms`);
}
