import { SpanKind, trace } from "@opentelemetry/api";
import { Registry } from "prom-client";
import { beforeAll, describe, expect, it } from "vitest";
import type { Bus } from "./connect.ts";
import { relayPrometheusMetrics } from "./metrics.ts";
import { AGGREGATE_ID_HEADER, EVENT_TYPE_HEADER, writeOutbox } from "./outbox.ts";
import { nudgeRelays } from "./publish.ts";
import { OutboxRelay } from "./relay.ts";
import { ensureStreams, eventSubject } from "./streams.ts";
import { collect, duplicates, orderViolation, waitFor, writeTicketEvents } from "./testing/harness.ts";
import { capturingLogger, silentLogger } from "./testing/log.ts";
import { testStream } from "./testing/names.ts";
import { useRelayFixture } from "./testing/relay-fixture.ts";
import { installTestTracing } from "./testing/tracing.ts";

const { exporter, provider } = installTestTracing();
const fixture = useRelayFixture("bus-relay-test");
const { database, relay, pending, streamMessages, streams } = fixture;
let bus: Bus;
beforeAll(() => {
  bus = fixture.bus;
});

describe("relay: outbox to consumer", () => {
  it("delivers every row once, in order per ticket, with the writer's trace context", async () => {
    const d = await database("relaye2e");
    const def = testStream("e2e");
    streams.push(def.name);
    await ensureStreams(bus.jsm, def);
    const { received, handle } = await collect(bus, def, "e2e");
    const registry = new Registry();
    const r = relay(d, { metrics: relayPrometheusMetrics(registry) });

    const writerSpans = new Map<string, { traceId: string; spanId: string }>();
    const tracer = trace.getTracer("ticket-service");
    for (let seq = 0; seq < 4; seq++) {
      for (let ticket = 1; ticket <= 5; ticket++) {
        await tracer.startActiveSpan(`update ticket ${ticket}`, async (span) => {
          const [id] = await writeTicketEvents(d.orm.em, def, ticket, [seq]);
          if (id) writerSpans.set(id, span.spanContext());
          span.end();
        });
      }
      r.notify();
    }

    await waitFor(() => received.length >= 20, "20 events at the consumer");
    await handle.stop();
    expect(received).toHaveLength(20);
    expect(duplicates(received)).toEqual([]);
    expect(orderViolation(received)).toBeUndefined();
    expect(new Set(received.map((x) => x.messageId))).toEqual(new Set(writerSpans.keys()));
    const first = received[0]?.message;
    expect(first?.eventType).toBe("osticket.ticket.v1.TicketUpdated");
    expect(first?.headers[EVENT_TYPE_HEADER]).toBe("osticket.ticket.v1.TicketUpdated");
    expect(first?.aggregateType).toBe("ticket");
    expect(first?.headers[AGGREGATE_ID_HEADER]).toBe(String(received[0]?.ticketId));
    await waitFor(async () => (await pending(d)) === 0, "all rows marked published");

    // Each row's publish is a PRODUCER child of the span that wrote the row, and its consumer span a
    // CONSUMER child of that PRODUCER span: one trace from the write to the handling.
    await provider.forceFlush();
    const finished = exporter.getFinishedSpans();
    const consumerSpans = finished.filter((s) => s.name.startsWith("process "));
    for (const [id, writer] of writerSpans) {
      const producer = finished.find(
        (s) => s.kind === SpanKind.PRODUCER && s.attributes["messaging.message.id"] === id,
      );
      expect(producer?.name).toBe(`send ${eventSubject(def, "ticket", "updated")}`);
      expect(producer?.spanContext().traceId).toBe(writer.traceId);
      expect(producer?.parentSpanContext?.spanId).toBe(writer.spanId);
      expect(producer?.attributes).toMatchObject({
        "messaging.system": "nats",
        "messaging.nats.stream": def.name,
      });
      const span = consumerSpans.find((s) => s.attributes["messaging.message.id"] === id);
      expect(span, `consumer span of ${id}`).toBeDefined();
      expect(span?.spanContext().traceId).toBe(writer.traceId);
      expect(span?.parentSpanContext?.spanId).toBe(producer?.spanContext().spanId);
      expect(span?.attributes).toMatchObject({
        "messaging.system": "nats",
        "messaging.destination.name": eventSubject(def, "ticket", "updated"),
        "messaging.operation": "process",
      });
    }

    await waitFor(
      async () =>
        (await registry.getSingleMetric("ostmesh_outbox_published_total")?.get())?.values[0]?.value === 20,
      "published counter at 20",
    );
    expect((await registry.getSingleMetric("ostmesh_outbox_relay_leader")?.get())?.values[0]?.value).toBe(1);
  });

  it("drops re-publishes of rows already in the stream (Nats-Msg-Id = outbox id)", async () => {
    const d = await database("relaydedupe");
    const def = testStream("dedupe");
    streams.push(def.name);
    await ensureStreams(bus.jsm, def);
    const r = relay(d);
    for (let ticket = 1; ticket <= 3; ticket++) await writeTicketEvents(d.orm.em, def, ticket, [0, 1, 2]);
    r.notify();
    await waitFor(async () => (await pending(d)) === 0, "first publish");
    expect(await streamMessages(def.name)).toBe(9);

    // As if the relay had crashed before marking: every row is unpublished again.
    await d.orm.em.fork().execute("UPDATE ostmesh_outbox SET published_at = NULL");
    r.notify();
    await waitFor(async () => (await pending(d)) === 0, "republish");
    expect(await streamMessages(def.name)).toBe(9);

    const { received, handle } = await collect(bus, def, "dedupe");
    await waitFor(() => received.length >= 9, "9 events");
    await new Promise((resolve) => setTimeout(resolve, 200));
    await handle.stop();
    expect(received).toHaveLength(9);
    expect(duplicates(received)).toEqual([]);
  });
});

describe("relay: payload preparation", () => {
  it("publishes what preparePayload makes of each row (given its id, type and stored bytes)", async () => {
    const d = await database("relayprepare");
    const def = testStream("prepare");
    streams.push(def.name);
    await ensureStreams(bus.jsm, def);
    const seen: { id: string; eventType: string }[] = [];
    const r = relay(d, {
      preparePayload: ({ id, eventType, payload }) => {
        seen.push({ id, eventType });
        return new TextEncoder().encode(`${new TextDecoder().decode(payload)}|row ${id}`);
      },
    });
    await writeTicketEvents(d.orm.em, def, 7, [0, 1]);
    r.notify();
    await waitFor(async () => (await pending(d)) === 0, "publish");
    const { received, handle } = await collect(bus, def, "prepare");
    await waitFor(() => received.length >= 2, "2 events");
    await handle.stop();
    const bodies = received.map((m) => new TextDecoder().decode(m.message.data));
    expect(bodies).toEqual(received.map((m, i) => `7:${i}|row ${m.messageId}`));
    expect(seen.map((s) => s.id)).toEqual(received.map((m) => m.messageId));
    expect(new Set(seen.map((s) => s.eventType)).size).toBe(1);
    // The stored row keeps its own bytes.
    const [row] = await d.orm.em
      .fork()
      .execute<{ payload: Buffer }[]>("SELECT payload FROM ostmesh_outbox ORDER BY id LIMIT 1");
    expect(new TextDecoder().decode(row?.payload)).toBe("7:0");
  });
});

describe("relay: failures", () => {
  it("retries with backoff while the stream is missing, then delivers everything in order", async () => {
    const d = await database("relayretry");
    const def = testStream("retry");
    streams.push(def.name);
    let failures = 0;
    const r = relay(d, {
      backoff: { initialMs: 100, maxMs: 300 },
      publishTimeoutMs: 1_000,
      metrics: { failed: (n) => (failures += n) },
    });
    await writeTicketEvents(d.orm.em, def, 1, [0, 1, 2]);
    await writeTicketEvents(d.orm.em, def, 2, [0, 1]);
    r.notify();

    type Row = {
      id: string;
      aggregate_id: string;
      attempts: number;
      last_error: string | null;
      waits: number;
    };
    const rows = () =>
      d.orm.em
        .fork()
        .execute<Row[]>(
          "SELECT id, aggregate_id, attempts, last_error, next_attempt_at > created_at AS waits FROM ostmesh_outbox ORDER BY id",
        );
    await waitFor(
      async () => failures >= 4 && (await rows()).filter((x) => x.attempts >= 2).length === 2,
      "two retries each",
    );
    const state = await rows();
    // Only the head row of each ticket is tried; the rows behind it wait their turn.
    expect(state.map((x) => x.attempts > 0)).toEqual([true, false, false, true, false]);
    for (const head of [state[0], state[3]]) {
      expect(head?.last_error).toMatch(/no JetStream stream captures subject .*retry/);
      expect(Number(head?.waits)).toBe(1);
    }

    await ensureStreams(bus.jsm, def);
    const { received, handle } = await collect(bus, def, "retry");
    await waitFor(() => received.length >= 5, "all five events", 5_000);
    await handle.stop();
    expect(received.map((x) => `${x.ticketId}:${x.seq}`).filter((x) => x.startsWith("1:"))).toEqual([
      "1:0",
      "1:1",
      "1:2",
    ]);
    expect(duplicates(received)).toEqual([]);
    await waitFor(async () => (await pending(d)) === 0, "every row marked published");
  });

  it("holds back only the ticket whose event cannot be published", async () => {
    const d = await database("relayblock");
    const def = testStream("block");
    // A subject no stream captures yet (its own stream is created later).
    const stray = testStream("stray");
    streams.push(def.name, stray.name);
    await ensureStreams(bus.jsm, def);
    const r = relay(d, { backoff: { initialMs: 50, maxMs: 100 }, publishTimeoutMs: 1_000 });
    const em = d.orm.em;
    const straySubject = eventSubject(stray, "ticket", "updated");
    const ids = await em.fork().transactional(async (tx) => {
      const out: string[] = [];
      const add = async (ticket: number, seq: number, subject?: string) => {
        const base = {
          subject: subject ?? eventSubject(def, "ticket", "updated"),
          eventType: "osticket.ticket.v1.TicketUpdated",
          aggregateType: "ticket",
          aggregateId: ticket,
          payload: new TextEncoder().encode(`${ticket}:${seq}`),
        };
        out.push((await writeOutbox(tx, base)).id);
      };
      await add(1, 0);
      await add(1, 1, straySubject);
      await add(2, 0);
      await add(1, 2);
      await add(2, 1);
      return out;
    });
    r.notify();
    const published = async () =>
      (
        await em
          .fork()
          .execute<{ id: string }[]>(
            "SELECT id FROM ostmesh_outbox WHERE published_at IS NOT NULL ORDER BY id",
          )
      ).map((x) => String(x.id));
    await waitFor(async () => (await published()).length === 3, "the unblocked rows");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await published()).toEqual([ids[0], ids[2], ids[4]]);

    await ensureStreams(bus.jsm, stray);
    r.notify();
    await waitFor(async () => (await pending(d)) === 0, "the rest");
    const { received, handle } = await collect(bus, def, "block");
    await waitFor(() => received.length >= 4, "four events in the main stream");
    await handle.stop();
    expect(received.filter((x) => x.ticketId === 1).map((x) => x.seq)).toEqual([0, 2]);
    const strayInfo = await bus.jsm.streams.info(stray.name);
    expect(strayInfo.state.messages).toBe(1);
  });
});

describe("relay: damaged rows", () => {
  it("publishes rows whose stored headers are unreadable or invalid, without those headers", async () => {
    const d = await database("relaydamaged");
    const def = testStream("damaged");
    streams.push(def.name);
    await ensureStreams(bus.jsm, def);
    const em = d.orm.em.fork();
    const subject = eventSubject(def, "ticket", "updated");
    const insert =
      "INSERT INTO ostmesh_outbox (subject, event_type, aggregate_type, aggregate_id, payload, headers)" +
      " VALUES (?, 'osticket.ticket.v1.TicketUpdated', 'ticket', ?, ?, ?)";
    await em.execute(insert, [subject, "1", Buffer.from("1:0"), "{not json"]);
    await em.execute(insert, [
      subject,
      "1",
      Buffer.from("1:1"),
      JSON.stringify({ "bad name": "x", "Nats-Expected-Stream": "nope", ok: "yes", n: 5 }),
    ]);
    const { received, handle } = await collect(bus, def, "damaged");
    relay(d);
    await waitFor(() => received.length >= 2, "both rows");
    await handle.stop();
    expect(received.map((x) => x.seq)).toEqual([0, 1]);
    expect(received[1]?.message.headers.ok).toBe("yes");
    expect(Object.keys(received[1]?.message.headers ?? {})).not.toContain("bad name");
    expect(Object.keys(received[1]?.message.headers ?? {})).not.toContain("n");
    await waitFor(async () => (await pending(d)) === 0, "every row marked published");
  });
});

describe("relay: housekeeping and metrics", () => {
  it("reports the backlog and its lag, and deletes only old published rows", async () => {
    const d = await database("relayhk");
    const def = testStream("hk");
    let reported: [number, number] | undefined;
    const r = new OutboxRelay({
      databaseUrl: d.db.url,
      js: bus.js,
      retentionMs: 24 * 3_600_000,
      logger: silentLogger(),
      metrics: { backlog: (n, lag) => (reported = [n, lag]) },
    });
    fixture.track(r);
    expect(await r.reportBacklog()).toEqual({ pending: 0, oldestLagSeconds: 0 });
    const ids = await writeTicketEvents(d.orm.em, def, 7, [0, 1, 2, 3]);
    const em = d.orm.em.fork();
    await em.execute("UPDATE ostmesh_outbox SET created_at = NOW(6) - INTERVAL 90 SECOND WHERE id = ?", [
      ids[0],
    ]);
    const backlog = await r.reportBacklog();
    expect(backlog.pending).toBe(4);
    expect(backlog.oldestLagSeconds).toBeGreaterThanOrEqual(90);
    expect(backlog.oldestLagSeconds).toBeLessThan(120);
    expect(reported).toEqual([backlog.pending, backlog.oldestLagSeconds]);

    await em.execute("UPDATE ostmesh_outbox SET published_at = NOW(6) - INTERVAL 2 DAY WHERE id IN (?, ?)", [
      ids[0],
      ids[1],
    ]);
    await em.execute("UPDATE ostmesh_outbox SET published_at = NOW(6) - INTERVAL 1 HOUR WHERE id = ?", [
      ids[2],
    ]);
    await em.execute("UPDATE ostmesh_outbox SET created_at = NOW(6) - INTERVAL 3 DAY WHERE id = ?", [ids[3]]);
    expect(await r.housekeep()).toBe(2);
    const left = await em.execute<{ id: string }[]>("SELECT id FROM ostmesh_outbox ORDER BY id");
    expect(left.map((x) => String(x.id))).toEqual([ids[2], ids[3]]);
    expect(r.isLeader).toBe(false);
  });

  it("keeps retrying while the database is unreachable, logs why, and still stops cleanly", async () => {
    const { logger, lines } = capturingLogger();
    const r = new OutboxRelay({
      databaseUrl: "mysql://root@127.0.0.1:1/nowhere",
      js: bus.js,
      pollIntervalMs: 20,
      logger,
    }).start();
    await waitFor(
      () => lines.filter((l) => l.msg === "outbox relay cycle failed").length >= 2,
      "two failed cycles",
    );
    expect(r.isLeader).toBe(false);
    expect(String(lines.find((l) => l.msg === "outbox relay cycle failed")?.error)).toMatch(/ECONNREFUSED/);
    await r.stop();
  });

  it("doubles the retry delay up to its cap, with jitter", () => {
    const r = new OutboxRelay({
      databaseUrl: "mysql://unused/x",
      js: bus.js,
      backoff: { initialMs: 100, maxMs: 1_000 },
    });
    const within = (value: number, base: number) => value >= base * 0.8 && value <= base * 1.2;
    expect(within(r.retryDelayMs(1), 100)).toBe(true);
    expect(within(r.retryDelayMs(2), 200)).toBe(true);
    expect(within(r.retryDelayMs(4), 800)).toBe(true);
    expect(within(r.retryDelayMs(30), 1_000)).toBe(true);
    expect(() => new OutboxRelay({ databaseUrl: "mysql://unused/x", js: bus.js, batchSize: 0 })).toThrow();
  });

  /** A database, a stream, its wake subject, and the leading relay, polling too slowly to matter. */
  async function slowLeader(label: string) {
    const d = await database(`relay${label}`);
    const def = testStream(label);
    streams.push(def.name);
    await ensureStreams(bus.jsm, def);
    const wakeSubject = `${def.subjectPrefix.replace(/\.events$/, "")}.relay-wake`;
    const leader = relay(d, { pollIntervalMs: 60_000, nc: bus.nc, wakeSubject });
    await waitFor(() => leader.isLeader, "leader");
    return { d, def, wakeSubject, leader };
  }

  it("wakes on a core NATS message from another process's writer", async () => {
    // A slow poll: only the wake message can make delivery prompt.
    const { d, def, wakeSubject } = await slowLeader("wake");
    await new Promise((resolve) => setTimeout(resolve, 100));
    await writeTicketEvents(d.orm.em, def, 3, [0]);
    const started = Date.now();
    bus.nc.publish(wakeSubject);
    await waitFor(async () => (await pending(d)) === 0, "published after wake", 10_000);
    // Far sooner than the 60 s poll: the wake message did it.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("nudges other processes' relays only when the local relay does not hold the lease", async () => {
    const { d, def, wakeSubject, leader } = await slowLeader("nudge");
    const standby = relay(d, { pollIntervalMs: 60_000, standbyRetryMs: 60_000, nc: bus.nc, wakeSubject });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(standby.isLeader).toBe(false);
    let heard = 0;
    const sub = bus.nc.subscribe(wakeSubject, {
      callback: () => {
        heard++;
      },
    });
    try {
      await bus.nc.flush();
      // The leader is this process's: waking it is enough, and no message goes out.
      await writeTicketEvents(d.orm.em, def, 2, [0]);
      nudgeRelays(leader, bus.nc, wakeSubject);
      await waitFor(async () => (await pending(d)) === 0, "published after the local nudge", 10_000);
      await bus.nc.flush();
      expect(heard).toBe(0);
      // A standby's process wakes the leader elsewhere (here: the one above) through NATS.
      await writeTicketEvents(d.orm.em, def, 2, [0]);
      nudgeRelays(standby, bus.nc, wakeSubject);
      await waitFor(async () => (await pending(d)) === 0, "published after the wake message", 10_000);
      expect(heard).toBe(1);
      // So does a process without a relay of its own.
      nudgeRelays(undefined, bus.nc, wakeSubject);
      await bus.nc.flush();
      await waitFor(() => heard === 2, "wake message");
    } finally {
      sub.unsubscribe();
    }
  });
});
