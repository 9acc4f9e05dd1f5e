/**
 * Commit-to-consumer latency of events: a writer commits a change with its outbox row (as the ticket service
 * does) and wakes the relay; the relay publishes to JetStream (file storage, as in production); the figure is
 * the time from the COMMIT returning to (a) a durable consumer's handler (what the e-mail and webhook
 * consumers run in) and (b) a WatchEvents client over HTTP/1.1 (Connect, through a real server).
 *
 *   npx node bench/notification-latency.ts [events] [perSecond]      (default: 2000 events at 200/s)
 *
 * Real MariaDB (a scratch database with ostmesh's tables) and NATS; everything is removed at the end.
 */

import { randomBytes } from "node:crypto";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import {
  connectBus,
  consume,
  ensureStreams,
  eventStream,
  notifyRelay,
  startOutboxRelay,
  writeOutbox,
} from "@ostmesh/bus";
import { createOrm, runMigrations } from "@ostmesh/db";
import { databaseUrl, serverConnection } from "@ostmesh/db/testing/scratch.ts";
import { principalKey } from "@ostmesh/kit/auth/principal.ts";
import { outboxEventOf } from "@ostmesh/notification/capture/capture.ts";
import { decodeEvent } from "@ostmesh/notification/events/event.ts";
import { NotificationServiceImpl } from "@ostmesh/notification/service.ts";
import { targetPolicy } from "@ostmesh/notification/webhooks/ssrf.ts";
import { EventTypes } from "@ostmesh/proto";
import { PrincipalKind, PrincipalSchema } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { EventOrigin } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { AggregateType, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { NotificationService } from "@ostmesh/proto/gen/osticket/notification/v1/notification_service_pb.js";
import { ThreadEntryType } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { pino } from "pino";

const WAKE = "ostmesh.outbox.wake";

/** An empty database of its own (ostmesh's tables are created by the migrations below). */
export async function benchDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `ostmesh_bench_${randomBytes(4).toString("hex")}`;
  const conn = await serverConnection();
  await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb3 COLLATE utf8mb3_general_ci`);
  await conn.end();
  return {
    url: databaseUrl(name),
    async drop() {
      const c = await serverConnection();
      await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await c.end();
    },
  };
}

function percentiles(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  const f = (v: number) => `${v.toFixed(1)} ms`;
  return `n=${sorted.length} p50 ${f(at(0.5))}  p90 ${f(at(0.9))}  p99 ${f(at(0.99))}  max ${f(sorted.at(-1) ?? Number.NaN)}`;
}

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 2000);
  const perSecond = Number(process.argv[3] ?? 200);
  const logger = pino({ level: "warn" });
  const db = await benchDatabase();
  const orm = await createOrm({ url: db.url, pool: { max: 8 } });
  await runMigrations(orm);
  const suffix = randomBytes(3).toString("hex");
  const stream = eventStream({ name: `BENCH_NOTIF_${suffix}`, subjectPrefix: `bench_${suffix}.events` });
  const bus = await connectBus({ name: "bench-notification-latency" });
  await ensureStreams(bus.jsm, stream);
  const relay = startOutboxRelay({ databaseUrl: db.url, js: bus.js, nc: bus.nc, wakeSubject: WAKE, logger });

  // (a) a durable consumer, as the e-mail and webhook consumers run.
  const committedAt = new Map<string, number>();
  const committedWall = new Map<string, number>();
  const durableLatency: number[] = [];
  const relayLatency: number[] = [];
  const consumerLatency: number[] = [];
  const consumer = await consume({
    js: bus.js,
    jsm: bus.jsm,
    nc: bus.nc,
    stream: stream.name,
    durable: `bench_${suffix}`,
    filterSubjects: `${stream.subjectPrefix}.>`,
    deliverPolicy: "new",
    logger,
    handler: async (message) => {
      const now = performance.now();
      const event = decodeEvent(message);
      const number = event?.ticket?.number ?? "";
      const at = committedAt.get(number);
      if (at !== undefined) durableLatency.push(now - at);
      // JetStream stamps each message when it stores it: commit -> stored (relay), stored -> handler.
      const wall = committedWall.get(number);
      if (wall !== undefined) {
        relayLatency.push(message.timestamp.getTime() - wall);
        consumerLatency.push(Date.now() - message.timestamp.getTime());
      }
    },
  });

  // (b) a WatchEvents client over HTTP/1.1.
  const impl = new NotificationServiceImpl({ orm, bus, stream, policy: targetPolicy() });
  const service = create(PrincipalSchema, {
    actor: { kind: PrincipalKind.SERVICE, username: "bench" },
    scopes: ["events:read"],
  });
  const server = http.createServer(
    connectNodeAdapter({
      routes: (router) => router.service(NotificationService, impl),
      interceptors: [
        (next) => async (req) => {
          req.contextValues.set(principalKey, service);
          return next(req);
        },
      ],
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no address");
  const client = createClient(
    NotificationService,
    createConnectTransport({ baseUrl: `http://127.0.0.1:${address.port}`, httpVersion: "1.1" }),
  );
  const abort = new AbortController();
  const watchLatency: number[] = [];
  const watching = (async () => {
    for await (const res of client.watchEvents({}, { signal: abort.signal })) {
      const now = performance.now();
      if (res.item.case !== "event") continue;
      const at = committedAt.get(res.item.value.ticket?.number ?? "");
      if (at !== undefined) watchLatency.push(now - at);
    }
  })().catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 500));

  const gap = 1000 / perSecond;
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const due = started + i * gap;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const number = `B${i}`;
    const event = create(EventSchema, {
      type: EventTypes.TICKET_ENTRY_ADDED,
      occurredAt: timestampFromMs(Date.now()),
      origin: EventOrigin.OSTMESH,
      aggregate: { type: AggregateType.TICKET, id: (i % 50) + 1 },
      ticket: { ticketId: (i % 50) + 1, number, deptId: 1 },
      payload: {
        case: "threadEntryAdded",
        value: { entry: { id: i + 1, type: ThreadEntryType.RESPONSE, body: "<p>Thanks, we are on it.</p>" } },
      },
    });
    const tx = orm.em.fork();
    await tx.begin();
    await writeOutbox(tx, outboxEventOf(event, stream));
    // Taken as COMMIT is sent: the relay may see the row before the client hears the commit's answer.
    committedAt.set(number, performance.now());
    committedWall.set(number, Date.now());
    await tx.commit();
    notifyRelay(bus.nc, WAKE);
  }
  const deadline = Date.now() + 30_000;
  while ((durableLatency.length < total || watchLatency.length < total) && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
  const seconds = (performance.now() - started) / 1000;

  console.log(
    `events: ${total} committed at ${perSecond}/s over ${seconds.toFixed(1)} s (outbox -> relay -> JetStream file stream)`,
  );
  console.log(`commit -> durable consumer handler : ${percentiles(durableLatency)}`);
  console.log(
    `  of which commit -> stored in JetStream (outbox relay, ms clock): ${percentiles(relayLatency)}`,
  );
  console.log(
    `  of which stored -> consumer handler (ms clock)                 : ${percentiles(consumerLatency)}`,
  );
  console.log(`commit -> WatchEvents over HTTP/1.1: ${percentiles(watchLatency)}`);
  const p99 =
    [...durableLatency].sort((a, b) => a - b)[Math.floor(0.99 * durableLatency.length)] ?? Number.NaN;
  console.log(
    `target p99 <= 50 ms: ${p99 <= 50 ? "met" : "missed"} (durable consumer p99 ${p99.toFixed(1)} ms)`,
  );

  abort.abort();
  await watching;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await consumer.stop();
  await relay.stop();
  await bus.jsm.streams.delete(stream.name).catch(() => false);
  await bus.close();
  await orm.close(true);
  await db.drop();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
