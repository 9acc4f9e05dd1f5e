/**
 * How many concurrent WatchEvents streams one notification process holds, and at what memory: this process
 * serves NotificationService over HTTP/1.1 (Connect) on a real JetStream stream; a child process opens N raw
 * streaming requests (so client memory is not counted here), then K events are published and the time until
 * every stream has all of them is measured.
 *
 *   npx node --expose-gc bench/notification-streams.ts [streams] [events]     (default: 1000 streams, 20 events)
 *
 * Real MariaDB and NATS; the database and stream are removed at the end.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { create, toBinary } from "@bufbuild/protobuf";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { connectBus, ensureStreams, eventStream, publish } from "@ostmesh/bus";
import { createOrm } from "@ostmesh/db";
import { principalKey } from "@ostmesh/kit/auth/principal.ts";
import { NotificationServiceImpl } from "@ostmesh/notification/service.ts";
import { watchStats } from "@ostmesh/notification/watch/watch.ts";
import { targetPolicy } from "@ostmesh/notification/webhooks/ssrf.ts";
import { EventTypes } from "@ostmesh/proto";
import { PrincipalKind, PrincipalSchema } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { EventOrigin } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { AggregateType, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { NotificationService } from "@ostmesh/proto/gen/osticket/notification/v1/notification_service_pb.js";
import { ThreadEntryType } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { benchDatabase } from "./notification-latency.ts";

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** Child: opens `count` raw Connect streams to `url` and reports how many events each has received. */
async function clients(url: string, count: number): Promise<void> {
  const target = new URL(`${url}/osticket.notification.v1.NotificationService/WatchEvents`);
  const json = Buffer.from(JSON.stringify({ heartbeatInterval: "0s" }));
  const envelope = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), json]);
  envelope.writeUInt32BE(json.length, 1);
  const request = Buffer.concat([
    Buffer.from(
      `POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nContent-Type: application/connect+json\r\n` +
        `Connect-Protocol-Version: 1\r\nContent-Length: ${envelope.length}\r\n\r\n`,
    ),
    envelope,
  ]);
  const events = new Array<number>(count).fill(0);
  let open = 0;
  const marker = '"sequence":"';
  for (let i = 0; i < count; i++) {
    const socket = net.connect(Number(target.port), target.hostname);
    let carry = "";
    let headers = false;
    socket.on("data", (chunk: Buffer) => {
      let text = carry + chunk.toString("latin1");
      if (!headers && text.includes("\r\n\r\n")) {
        headers = true;
        if (text.startsWith("HTTP/1.1 200")) open++;
      }
      for (let at = text.indexOf(marker); at >= 0; at = text.indexOf(marker, at + 1))
        events[i] = (events[i] ?? 0) + 1;
      text = text.slice(-(marker.length - 1));
      carry = text;
    });
    socket.on("error", () => undefined);
    socket.write(request);
    if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  setInterval(() => {
    let min = Number.POSITIVE_INFINITY;
    for (const n of events) min = Math.min(min, n);
    process.stdout.write(`status ${open} ${min}\n`);
  }, 100);
}

async function main(): Promise<void> {
  const streams = Number(process.argv[2] ?? 1000);
  const total = Number(process.argv[3] ?? 20);
  const db = await benchDatabase();
  const orm = await createOrm({ url: db.url, pool: { max: 4 } });
  const suffix = randomBytes(3).toString("hex");
  const stream = eventStream({ name: `BENCH_WATCH_${suffix}`, subjectPrefix: `benchw_${suffix}.events` });
  const bus = await connectBus({ name: "bench-notification-streams" });
  await ensureStreams(bus.jsm, stream);
  const impl = new NotificationServiceImpl({ orm, bus, stream, policy: targetPolicy() });
  const principal = create(PrincipalSchema, {
    actor: { kind: PrincipalKind.SERVICE, username: "bench" },
    scopes: ["events:read"],
  });
  const server = http.createServer(
    connectNodeAdapter({
      routes: (router) => router.service(NotificationService, impl),
      interceptors: [
        (next) => async (req) => {
          req.contextValues.set(principalKey, principal);
          return next(req);
        },
      ],
    }),
  );
  server.maxConnections = streams + 100;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no address");

  globalThis.gc?.();
  await new Promise((resolve) => setTimeout(resolve, 200));
  const before = process.memoryUsage();
  const opening = performance.now();
  const child = spawn(
    process.execPath,
    [fileURLToPath(import.meta.url), "--clients", `http://127.0.0.1:${address.port}`, String(streams)],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let reported = { open: 0, min: 0 };
  createInterface({ input: child.stdout }).on("line", (line) => {
    const [tag, open, min] = line.split(" ");
    if (tag === "status") reported = { open: Number(open), min: Number(min) };
  });
  const until = async (what: string, ok: () => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  try {
    const progress = setInterval(() => process.stderr.write(`streams open: ${watchStats.open}\n`), 5000);
    // Connect sends the response headers with the first message: the server's count says when all are open.
    await until("every stream open", () => watchStats.open >= streams, 120_000).finally(() =>
      clearInterval(progress),
    );
    const openSeconds = (performance.now() - opening) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const held = process.memoryUsage();
    const info = await bus.jsm.streams.info(stream.name);

    const sending = performance.now();
    for (let i = 0; i < total; i++) {
      const event = create(EventSchema, {
        id: `bench-${i}`,
        type: EventTypes.TICKET_ENTRY_ADDED,
        origin: EventOrigin.OSTMESH,
        aggregate: { type: AggregateType.TICKET, id: 1 },
        ticket: { ticketId: 1, number: "100001", deptId: 1 },
        payload: {
          case: "threadEntryAdded",
          value: { entry: { id: i + 1, type: ThreadEntryType.RESPONSE, body: "hi" } },
        },
      });
      await publish(bus.js, `${stream.subjectPrefix}.ticket.entry_added`, toBinary(EventSchema, event), {
        msgId: event.id,
      });
    }
    await until("every event on every stream", () => reported.min >= total, 120_000);
    const fanOutSeconds = (performance.now() - sending) / 1000;
    const peak = process.memoryUsage();

    console.log(
      `streams held: ${watchStats.open} WatchEvents streams (HTTP/1.1, one ordered JetStream consumer each; stream has ${info.state.consumer_count} consumers)`,
    );
    console.log(`opening them took ${openSeconds.toFixed(1)} s`);
    console.log(`memory before: rss ${mib(before.rss)}, heap ${mib(before.heapUsed)}`);
    console.log(
      `memory holding them: rss ${mib(held.rss)}, heap ${mib(held.heapUsed)}  -> per stream: rss ${((held.rss - before.rss) / streams / 1024).toFixed(1)} KiB, heap ${((held.heapUsed - before.heapUsed) / streams / 1024).toFixed(1)} KiB`,
    );
    console.log(
      `${total} events to every stream (${total * streams} deliveries) in ${fanOutSeconds.toFixed(2)} s; rss after ${mib(peak.rss)}`,
    );
    console.log(`target 1,000 streams: ${watchStats.open >= 1000 ? "met" : "missed"}`);
  } finally {
    child.kill();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await until("streams closed", () => watchStats.open === 0, 30_000).catch(() => undefined);
    await bus.jsm.streams.delete(stream.name).catch(() => false);
    await bus.close();
    await orm.close(true);
    await db.drop();
  }
}

if (process.argv[2] === "--clients") await clients(process.argv[3] ?? "", Number(process.argv[4] ?? 0));
else await main();
