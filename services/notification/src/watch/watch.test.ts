import http from "node:http";
import net from "node:net";
import { clone, create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import { type EventStreamDefinition, ensureStreams, publish } from "@ostmesh/bus";
import { deleteStreams, testStream } from "@ostmesh/bus/testing/names.ts";
import { execute, query } from "@ostmesh/db";
import { loadAgentPrincipal, loadEndUserPrincipal } from "@ostmesh/kit/auth/directory.ts";
import { authInterceptor } from "@ostmesh/kit/auth/interceptor.ts";
import { createTestIssuer, type TestIssuer } from "@ostmesh/kit/auth/testing/issuer.ts";
import { EventTypes } from "@ostmesh/proto";
import {
  type Principal,
  PrincipalKind,
  PrincipalSchema,
} from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { EventOrigin, TicketState } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { AggregateType, type Event, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import {
  NotificationService,
  type WatchEventsRequestSchema,
  type WatchEventsResponse,
} from "@ostmesh/proto/gen/osticket/notification/v1/notification_service_pb.js";
import { ThreadEntryType } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotificationServiceImpl } from "../service.ts";
import { createTestEnv, type TestEnv } from "../testing/env.ts";
import { replayApiCreateTicket } from "../testing/osticket-php.ts";
import { targetPolicy } from "../webhooks/ssrf.ts";
import { watchStats } from "./watch.ts";

type NotificationClient = Client<typeof NotificationService>;
type EventInit = MessageInitShape<typeof EventSchema>;

let n = 0;
function event(init: EventInit): Event {
  n++;
  const e = create(EventSchema, init);
  e.id = `watch-${Date.now()}-${n}`;
  e.origin = EventOrigin.OSTMESH;
  return e;
}

function ticketEvent(
  ticket: { id: number; dept: number; staff?: number; state?: TicketState },
  payload: NonNullable<EventInit["payload"]>,
) {
  const type =
    payload.case === "threadEntryAdded"
      ? EventTypes.TICKET_ENTRY_ADDED
      : payload.case === "ticketCreated"
        ? EventTypes.TICKET_CREATED
        : EventTypes.TICKET_UPDATED;
  return event({
    type,
    aggregate: { type: AggregateType.TICKET, id: ticket.id },
    ticket: {
      ticketId: ticket.id,
      number: String(ticket.id),
      deptId: ticket.dept,
      staffId: ticket.staff ?? 0,
      state: ticket.state ?? TicketState.OPEN,
    },
    payload,
  });
}

const entry = (type: ThreadEntryType, body: string) => ({
  case: "threadEntryAdded" as const,
  value: { entry: { id: ++n, type, body, ipAddress: "10.0.0.9" } },
});

/** Reads items of a server stream until `count` events arrived (heartbeats are kept too). */
async function take(
  stream: AsyncIterator<WatchEventsResponse>,
  count: number,
): Promise<{ events: { event: Event; seq: bigint }[]; heartbeats: bigint[] }> {
  const events: { event: Event; seq: bigint }[] = [];
  const heartbeats: bigint[] = [];
  while (events.length < count) {
    const next = await stream.next();
    if (next.done) throw new Error(`the stream ended after ${events.length} events`);
    const item = next.value.item;
    if (item.case === "event") events.push({ event: item.value, seq: next.value.sequence });
    else if (item.case === "heartbeat") heartbeats.push(next.value.sequence);
  }
  return { events, heartbeats };
}

describe("WatchEvents over HTTP/1.1 (Connect)", () => {
  let env: TestEnv;
  let issuer: TestIssuer;
  let server: http.Server;
  let baseUrl: string;
  let slowStream: EventStreamDefinition;
  const aborts: AbortController[] = [];

  async function clientFor(
    principal: Principal,
    streamDef?: EventStreamDefinition,
  ): Promise<NotificationClient> {
    const token = await issuer.sign(principal, { ttlSec: 3600 });
    const url = streamDef ? `${baseUrl}/slow` : baseUrl;
    return createClient(
      NotificationService,
      createConnectTransport({
        baseUrl: url,
        httpVersion: "1.1",
        interceptors: [
          (next) => async (req) => {
            req.header.set("authorization", `Bearer ${token}`);
            return next(req);
          },
        ],
      }),
    );
  }

  /** Waits until `count` more streams than `before` are open on the server (their consumers exist). */
  async function opened(before: number, count: number): Promise<void> {
    await waitForValue(() => watchStats.open >= before + count, `${count} streams open`, 15_000);
  }

  function watch(
    client: NotificationClient,
    request: MessageInitShape<typeof WatchEventsRequestSchema>,
  ): AsyncIterator<WatchEventsResponse> {
    const abort = new AbortController();
    aborts.push(abort);
    return client.watchEvents(request, { signal: abort.signal })[Symbol.asyncIterator]();
  }

  async function emit(e: Event, def: EventStreamDefinition = env.stream): Promise<number> {
    const subject = `${def.subjectPrefix}.${e.type}`;
    const ack = await publish(env.bus.js, subject, toBinary(EventSchema, e), { msgId: e.id });
    return ack.seq;
  }

  const service = (): Principal =>
    create(PrincipalSchema, {
      actor: { kind: PrincipalKind.SERVICE, username: "tests" },
      scopes: ["events:read"],
    });

  beforeAll(async () => {
    env = await createTestEnv("watch");
    await replayApiCreateTicket(env.orm.em.fork());
    // Agent 2: Support only, not an administrator.
    await execute(
      env.orm.em.fork(),
      "INSERT INTO ost_staff (staff_id, dept_id, role_id, username, firstname, lastname, passwd, email, isactive, isadmin," +
        " created, updated) VALUES (2, 1, 1, 'agent2', 'Jane', 'Agent', '', 'jane@example.org', 1, 0, NOW(), NOW())",
    );
    await execute(
      env.orm.em.fork(),
      "INSERT INTO ost_user_email (id, user_id, address) VALUES (29, 29, 'other@example.net')",
    );
    await execute(
      env.orm.em.fork(),
      "INSERT INTO ost_user (id, org_id, default_email_id, name, created, updated) VALUES (29, 0, 29, 'Other User', NOW(), NOW())",
    );
    slowStream = testStream("watchslow", { storage: "file", maxBytes: 256 * 1024 * 1024 });
    await ensureStreams(env.bus.jsm, slowStream);
    issuer = await createTestIssuer();
    const q = (sql: string, params: readonly unknown[] = []) => query(env.orm.em.fork(), sql, params);
    const deps = { orm: env.orm, bus: env.bus, policy: targetPolicy() };
    const fast = connectNodeAdapter({
      routes: (router) =>
        router.service(NotificationService, new NotificationServiceImpl({ ...deps, stream: env.stream })),
      interceptors: [authInterceptor({ tokens: issuer.verifier, db: q })],
    });
    const slow = connectNodeAdapter({
      requestPathPrefix: "/slow",
      routes: (router) =>
        router.service(
          NotificationService,
          new NotificationServiceImpl({
            ...deps,
            stream: slowStream,
            watch: { maxBuffered: 4, slowClientTimeoutMs: 400, pullBatch: 8 },
          }),
        ),
      interceptors: [authInterceptor({ tokens: issuer.verifier, db: q })],
    });
    server = http.createServer((req, res) =>
      req.url?.startsWith("/slow/") ? slow(req, res) : fast(req, res),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const address = server.address();
    if (!address || typeof address === "string") throw new Error("no address");
    baseUrl = `http://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    for (const a of aborts) a.abort();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await deleteStreams(env.bus.jsm, [slowStream.name]);
    await env?.close();
  });

  it("streams new events in order with their sequences, heartbeats while idle, filters by type and resumes", async () => {
    const client = await clientFor(service());
    const before = watchStats.open;
    const all = watch(client, { heartbeatInterval: durationFromMs(300) });
    const notes = watch(client, { eventTypes: ["ticket.entry_added"] });
    await opened(before, 2);
    const published = [
      ticketEvent({ id: 1, dept: 1 }, { case: "ticketCreated", value: { ticket: { id: 1 } } }),
      ticketEvent({ id: 1, dept: 1 }, entry(ThreadEntryType.RESPONSE, "hello")),
      event({
        type: EventTypes.USER_CREATED,
        aggregate: { type: AggregateType.USER, id: 7 },
        payload: { case: "userCreated", value: { user: { id: 7 } } },
      }),
    ];
    const seqs: number[] = [];
    for (const e of published) seqs.push(await emit(e));
    const got = await take(all, 3);
    expect(got.events.map((g) => g.event.id)).toEqual(published.map((e) => e.id));
    expect(got.events.map((g) => Number(g.seq))).toEqual(seqs);
    const heartbeat = await all.next();
    expect(heartbeat.value?.item.case).toBe("heartbeat");
    expect(heartbeat.value?.sequence).toBe(BigInt(seqs[2] ?? 0));
    const onlyEntries = await take(notes, 1);
    expect(onlyEntries.events.map((g) => g.event.id)).toEqual([published[1]?.id]);

    // Resuming after the first event replays the two after it, then continues live.
    const resumed = watch(client, { afterSequence: BigInt(seqs[0] ?? 0) });
    const replay = await take(resumed, 2);
    expect(replay.events.map((g) => g.event.id)).toEqual([published[1]?.id, published[2]?.id]);
    const live = ticketEvent({ id: 2, dept: 3 }, entry(ThreadEntryType.MESSAGE, "live"));
    await emit(live);
    expect((await take(resumed, 1)).events[0]?.event.id).toBe(live.id);

    await expect(take(watch(client, { afterSequence: 999_999n }), 1)).rejects.toMatchObject({
      code: Code.OutOfRange,
    });
    await expect(take(watch(client, { eventTypes: ["Ticket"] }), 1)).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
    await expect(take(watch(client, { heartbeatInterval: durationFromMs(-5) }), 1)).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
  });

  it("gives an agent only events of tickets they may see; non-ticket events only to administrators", async () => {
    const q = (sql: string, params: readonly unknown[] = []) => query(env.orm.em.fork(), sql, params);
    const agent = await loadAgentPrincipal(q, 2);
    const admin = await loadAgentPrincipal(q, 1);
    if (!agent || !admin) throw new Error("agents missing");
    const before = watchStats.open;
    const agentStream = watch(await clientFor(agent), {});
    const adminStream = watch(await clientFor(admin), { eventTypes: ["user.*"] });
    await opened(before, 2);
    const support = ticketEvent({ id: 3, dept: 1 }, entry(ThreadEntryType.NOTE, "support"));
    const maintenance = ticketEvent({ id: 4, dept: 3 }, entry(ThreadEntryType.NOTE, "maintenance"));
    const assigned = ticketEvent(
      { id: 5, dept: 3, staff: 2 },
      entry(ThreadEntryType.NOTE, "assigned to agent 2"),
    );
    const closedAssigned = ticketEvent(
      { id: 6, dept: 3, staff: 2, state: TicketState.CLOSED },
      entry(ThreadEntryType.NOTE, "closed, no longer counts as assigned"),
    );
    const user = event({
      type: EventTypes.USER_UPDATED,
      aggregate: { type: AggregateType.USER, id: 8 },
      payload: { case: "userUpdated", value: {} },
    });
    const marker = ticketEvent({ id: 9, dept: 1 }, entry(ThreadEntryType.NOTE, "last"));
    for (const e of [support, maintenance, assigned, closedAssigned, user, marker]) await emit(e);
    const seen = await take(agentStream, 3);
    expect(seen.events.map((g) => g.event.id)).toEqual([support.id, assigned.id, marker.id]);
    expect((await take(adminStream, 1)).events[0]?.event.id).toBe(user.id);
    // An agent naming a ticket they may not see is told it does not exist.
    await expect(take(watch(await clientFor(agent), { ticketId: 9999 }), 1)).rejects.toMatchObject({
      code: Code.NotFound,
    });
  });

  it("gives an end user the events of their own ticket only, without internal notes or agent-only fields", async () => {
    const q = (sql: string, params: readonly unknown[] = []) => query(env.orm.em.fork(), sql, params);
    const owner = await loadEndUserPrincipal(q, 28);
    if (!owner) throw new Error("user 28 missing");
    const client = await clientFor(owner);
    await expect(take(watch(client, {}), 1)).rejects.toMatchObject({ code: Code.InvalidArgument });
    const stranger = clone(PrincipalSchema, owner);
    if (stranger.actor) stranger.actor.id = 4242;
    await expect(take(watch(await clientFor(stranger), { ticketId: 25 }), 1)).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });
    const other = await loadEndUserPrincipal(q, 29);
    if (!other) throw new Error("user 29 missing");
    await expect(take(watch(await clientFor(other), { ticketId: 25 }), 1)).rejects.toMatchObject({
      code: Code.NotFound,
    });
    const before = watchStats.open;
    const own = watch(client, { ticketId: 25 });
    await opened(before, 1);
    const created = ticketEvent(
      { id: 25, dept: 1, staff: 1 },
      {
        case: "ticketCreated",
        value: {
          ticket: {
            id: 25,
            ipAddress: "203.0.113.7",
            assigneeStaff: { id: 1, name: "Admin User" },
            sla: { id: 1 },
          },
          message: { id: 31, type: ThreadEntryType.MESSAGE, body: "m", ipAddress: "203.0.113.7" },
        },
      },
    );
    const note = ticketEvent({ id: 25, dept: 1 }, entry(ThreadEntryType.NOTE, "internal"));
    const otherTicket = ticketEvent({ id: 26, dept: 1 }, entry(ThreadEntryType.RESPONSE, "not yours"));
    const reply = ticketEvent({ id: 25, dept: 1 }, entry(ThreadEntryType.RESPONSE, "for you"));
    for (const e of [created, note, otherTicket, reply]) await emit(e);
    const got = await take(own, 2);
    expect(got.events.map((g) => g.event.id)).toEqual([created.id, reply.id]);
    const first = got.events[0]?.event;
    if (first?.payload.case !== "ticketCreated") throw new Error("expected ticket.created");
    expect(first.payload.value.ticket?.ipAddress).toBe("");
    expect(first.payload.value.ticket?.assigneeStaff).toBeUndefined();
    expect(first.payload.value.ticket?.sla).toBeUndefined();
    expect(first.payload.value.message?.ipAddress).toBe("");
    expect(first.ticket?.staffId).toBe(0);
    const second = got.events[1]?.event;
    if (second?.payload.case !== "threadEntryAdded") throw new Error("expected ticket.entry_added");
    expect(second.payload.value.entry?.ipAddress).toBe("");
  });

  it("bounds what a slow client costs: a full buffer closes the stream with the sequence to resume after, and nothing is lost", async () => {
    // A client that really stops reading: a raw HTTP/1.1 Connect request on a paused socket.
    const token = await issuer.sign(service(), { ttlSec: 3600 });
    const closedBefore = watchStats.closedSlow;
    const openBefore = watchStats.open;
    const socket = await rawWatch(`${baseUrl}/slow`, token, {});
    await waitForValue(() => watchStats.open > openBefore, "the raw stream open", 10_000);
    const total = 120;
    const body = "x".repeat(200_000);
    const ids: string[] = [];
    for (let i = 0; i < total; i++) {
      const e = ticketEvent({ id: 100 + i, dept: 1 }, entry(ThreadEntryType.RESPONSE, body));
      ids.push(e.id);
      await emit(e, slowStream);
    }
    // The kernel buffers take a few MB; then the server's buffer of 4 fills, waits 400 ms and gives up.
    await waitForValue(() => watchStats.closedSlow > closedBefore, "the slow stream closed", 10_000);
    const { events, end } = await socket.readAll();
    expect(end.error?.code, JSON.stringify(end)).toBe("resource_exhausted");
    const resumeAfter = /resume with after_sequence=(\d+)/.exec(end.error?.message ?? "")?.[1];
    expect(resumeAfter).toBeDefined();
    expect(events.length).toBeGreaterThan(0);
    expect(events.length).toBeLessThan(total);
    // What arrived is a prefix of what was published, and the sequence to resume after is its last one.
    expect(events.map((e) => e.id)).toEqual(ids.slice(0, events.length));
    expect(Number(events.at(-1)?.sequence)).toBe(Number(resumeAfter));
    const client = await clientFor(service(), slowStream);
    const rest = watch(client, { afterSequence: BigInt(resumeAfter ?? 0) });
    const remaining = await take(rest, total - events.length);
    expect([...events.map((e) => e.id), ...remaining.events.map((g) => g.event.id)]).toEqual(ids);
  }, 60_000);
});

async function waitForValue(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * WatchEvents over a raw HTTP/1.1 socket speaking the Connect streaming protocol (JSON), paused right after
 * the request: nothing is read until `readAll`, which decodes the chunked body and the Connect envelopes.
 */
async function rawWatch(url: string, token: string, request: Record<string, unknown>) {
  const target = new URL(`${url}/osticket.notification.v1.NotificationService/WatchEvents`);
  const json = Buffer.from(JSON.stringify(request));
  const envelope = Buffer.alloc(5 + json.length);
  envelope.writeUInt8(0, 0);
  envelope.writeUInt32BE(json.length, 1);
  json.copy(envelope, 5);
  const socket = net.connect(Number(target.port), target.hostname);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  socket.write(
    `POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nContent-Type: application/connect+json\r\n` +
      `Connect-Protocol-Version: 1\r\nAuthorization: Bearer ${token}\r\nContent-Length: ${envelope.length}\r\n\r\n`,
  );
  socket.write(envelope);
  socket.pause();
  return {
    async readAll(): Promise<{
      events: { id: string; sequence: string }[];
      end: { error?: { code?: string; message?: string } };
    }> {
      const chunks: Buffer[] = [];
      const done = new Promise<void>((resolve) => {
        socket.on("data", (c: Buffer) => {
          chunks.push(c);
          if (Buffer.concat(chunks.slice(-2)).includes("\r\n0\r\n\r\n")) resolve();
        });
        socket.on("end", () => resolve());
      });
      socket.resume();
      await done;
      socket.destroy();
      const raw = Buffer.concat(chunks);
      const headerEnd = raw.indexOf("\r\n\r\n");
      let rest = raw.subarray(headerEnd + 4);
      const body: Buffer[] = [];
      for (;;) {
        const line = rest.indexOf("\r\n");
        const size = Number.parseInt(rest.subarray(0, line).toString("latin1"), 16);
        if (!size) break;
        body.push(rest.subarray(line + 2, line + 2 + size));
        rest = rest.subarray(line + 2 + size + 2);
      }
      let data = Buffer.concat(body);
      const events: { id: string; sequence: string }[] = [];
      let end: { error?: { code?: string; message?: string } } = {};
      while (data.length >= 5) {
        const flags = data.readUInt8(0);
        const length = data.readUInt32BE(1);
        const message: unknown = JSON.parse(data.subarray(5, 5 + length).toString("utf8"));
        data = data.subarray(5 + length);
        if (flags & 0x02) {
          end = message && typeof message === "object" ? { ...message } : {};
          break;
        }
        if (message && typeof message === "object" && "event" in message) {
          const item = message.event;
          const id = item && typeof item === "object" && "id" in item ? String(item.id) : "";
          events.push({ id, sequence: "sequence" in message ? String(message.sequence) : "" });
        }
      }
      return { events, end };
    },
  };
}
