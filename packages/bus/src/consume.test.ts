import { nanos } from "@nats-io/transport-node";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Bus, connectBus, serverAtLeast } from "./connect.ts";
import { type BusMessage, type ConsumerHandle, consume } from "./consume.ts";
import { processOnce } from "./inbox.ts";
import { publish } from "./publish.ts";
import { ensureStreams, eventSubject } from "./streams.ts";
import { createOutboxDatabase, type OutboxDatabase } from "./testing/database.ts";
import { waitFor } from "./testing/harness.ts";
import { capturingLogger, silentLogger } from "./testing/log.ts";
import { deleteStreams, testDurable, testStream } from "./testing/names.ts";
import { installTestTracing } from "./testing/tracing.ts";

const { exporter, provider } = installTestTracing();
const def = testStream("consume");
let bus: Bus;
let consumerBus: Bus;
let database: OutboxDatabase;
const handles: ConsumerHandle[] = [];
const encoder = new TextEncoder();
const decoder = new TextDecoder();

beforeAll(async () => {
  bus = await connectBus({ name: "bus-consume-test", logger: silentLogger() });
  consumerBus = await connectBus({ name: "bus-consume-test-consumer", logger: silentLogger() });
  database = await createOutboxDatabase("consume");
  await ensureStreams(bus.jsm, def);
});

afterAll(async () => {
  await Promise.all(handles.map((h) => h.stop()));
  await deleteStreams(bus.jsm, [def.name]);
  await consumerBus.close();
  await bus.close();
  await database.close();
});

/** Each test uses its own subject, so its durable sees only its own messages. */
function subject(label: string): string {
  return eventSubject(def, "test", label);
}

async function start(
  label: string,
  handler: (m: BusMessage) => Promise<void>,
  options: Partial<Parameters<typeof consume>[0]> = {},
): Promise<ConsumerHandle> {
  const handle = await consume({
    js: consumerBus.js,
    jsm: consumerBus.jsm,
    nc: consumerBus.nc,
    stream: def.name,
    durable: testDurable(label),
    filterSubjects: subject(label),
    logger: silentLogger(),
    handler,
    ...options,
  });
  handles.push(handle);
  return handle;
}

describe("consume", () => {
  it("naks a failed delivery with the backoff delay and acks the redelivery", async () => {
    const deliveries: Array<{ count: number; at: number; data: string }> = [];
    const handle = await start(
      "nak",
      async (m) => {
        deliveries.push({ count: m.deliveryCount, at: Date.now(), data: decoder.decode(m.data) });
        if (m.deliveryCount === 1) throw new Error("database busy");
      },
      { backoff: [250] },
    );
    await publish(bus.js, subject("nak"), encoder.encode("hello"));
    await waitFor(() => deliveries.length >= 2, "the redelivery");
    expect(deliveries.map((d) => [d.count, d.data])).toEqual([
      [1, "hello"],
      [2, "hello"],
    ]);
    expect((deliveries[1]?.at ?? 0) - (deliveries[0]?.at ?? 0)).toBeGreaterThanOrEqual(200);
    await waitFor(
      async () => (await bus.jsm.consumers.info(def.name, handle.durable)).num_ack_pending === 0,
      "the ack",
    );
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(deliveries).toHaveLength(2);
  });

  it("terminates a message after its last delivery, logs it, and moves on", async () => {
    const { logger, lines } = capturingLogger();
    const seen: string[] = [];
    const terminated: Array<{ data: string; error: string }> = [];
    const handle = await start(
      "term",
      async (m) => {
        const data = decoder.decode(m.data);
        seen.push(`${data}#${m.deliveryCount}`);
        if (data === "poison") throw new Error("cannot parse");
      },
      {
        maxDeliver: 3,
        backoff: [50, 80],
        logger,
        onTerminated: (m, error) => {
          terminated.push({ data: decoder.decode(m.data), error: String(error) });
          throw new Error("dead-letter store down");
        },
      },
    );
    await publish(bus.js, subject("term"), encoder.encode("poison"));
    await publish(bus.js, subject("term"), encoder.encode("fine"));
    await waitFor(
      () => terminated.length === 1 && seen.includes("fine#1"),
      "termination and the next message",
    );
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(seen.filter((s) => s.startsWith("poison"))).toEqual(["poison#1", "poison#2", "poison#3"]);
    expect(terminated).toEqual([{ data: "poison", error: "Error: cannot parse" }]);
    const gaveUp = lines.find((l) => l.msg === "giving up on message after its last delivery (terminated)");
    expect(gaveUp).toMatchObject({
      level: 50,
      deliveries: 3,
      subject: subject("term"),
      durable: handle.durable,
    });
    expect(lines.filter((l) => l.msg === "handler failed; message will be redelivered")).toHaveLength(2);
    expect(lines.find((l) => l.msg === "onTerminated failed")?.error).toMatch(/dead-letter store down/);
    // The term of "poison" and the ack of "fine" are sent without waiting for the server's answer.
    await waitFor(async () => {
      const settled = await bus.jsm.consumers.info(def.name, handle.durable);
      return settled.num_ack_pending === 0 && settled.num_pending === 0;
    }, "the term and the ack");
    const info = await bus.jsm.consumers.info(def.name, handle.durable);
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_pending).toBe(0);
  });

  it("runs the handler in a CONSUMER span whose parent is the publisher's span", async () => {
    const handlerSpans: string[] = [];
    await start("trace", async () => {
      const active = trace.getActiveSpan();
      if (active) handlerSpans.push(active.spanContext().spanId);
    });
    const tracer = trace.getTracer("gateway");
    const { traceId } = await tracer.startActiveSpan("POST /api/tickets.json", async (span) => {
      const ack = await publish(bus.js, subject("trace"), encoder.encode("x"), { msgId: "trace-1" });
      const again = await publish(bus.js, subject("trace"), encoder.encode("x"), { msgId: "trace-1" });
      expect(ack.duplicate).toBe(false);
      expect(again.duplicate).toBe(true);
      span.end();
      return span.spanContext();
    });
    await waitFor(() => handlerSpans.length >= 1, "the handler");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(handlerSpans).toHaveLength(1);
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const producers = spans.filter((s) => s.kind === SpanKind.PRODUCER);
    const consumerSpan = spans.find((s) => s.kind === SpanKind.CONSUMER);
    expect(producers).toHaveLength(2);
    expect(consumerSpan?.spanContext().spanId).toBe(handlerSpans[0]);
    expect(consumerSpan?.parentSpanContext?.spanId).toBe(producers[0]?.spanContext().spanId);
    expect(consumerSpan?.attributes).toMatchObject({
      "messaging.system": "nats",
      "messaging.destination.name": subject("trace"),
      "messaging.operation": "process",
      "messaging.message.id": "trace-1",
    });
    expect(producers[1]?.attributes["messaging.nats.duplicate"]).toBe(true);
  });

  it("fails a direct publish no stream captures, recording the error on the PRODUCER span", async () => {
    const stray = `${def.subjectPrefix.replace(/\.events$/, "")}.nowhere.x`;
    await expect(publish(bus.js, stray, encoder.encode("x"), { timeoutMs: 1_000 })).rejects.toThrow();
    await expect(
      publish(bus.js, subject("bad"), encoder.encode("x"), { headers: { "Nats-Msg-Id": "1" } }),
    ).rejects.toThrow(/reserved/);
    await provider.forceFlush();
    const span = exporter.getFinishedSpans().find((s) => s.name === `send ${stray}`);
    expect(span?.kind).toBe(SpanKind.PRODUCER);
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.events.some((e) => e.name === "exception")).toBe(true);
  });

  it("makes handlers idempotent with processOnce when a delivery is redone after its commit", async () => {
    const em = database.orm.em;
    await em.fork().execute("CREATE TABLE side_effects (message_id VARCHAR(128) NOT NULL)");
    const outcomes: boolean[] = [];
    let durable = "";
    const handle = await start(
      "once",
      async (m) => {
        const result = await processOnce(em.fork(), durable, m.messageId, async (tx) => {
          await tx.execute("INSERT INTO side_effects (message_id) VALUES (?)", [m.messageId]);
        });
        outcomes.push(result.processed);
        // As if the process died after committing but before acking: the message comes again.
        if (m.deliveryCount === 1) throw new Error("lost before ack");
      },
      { backoff: [50] },
    );
    durable = handle.durable;
    await publish(bus.js, subject("once"), encoder.encode("e"), { msgId: "once-1" });
    await waitFor(() => outcomes.length >= 2, "both deliveries");
    expect(outcomes).toEqual([true, false]);
    const rows = await em.fork().execute<{ message_id: string }[]>("SELECT message_id FROM side_effects");
    expect(rows.map((r) => r.message_id)).toEqual(["once-1"]);
  });

  it("resumes after the connection is dropped and re-established", async () => {
    const got: string[] = [];
    const own = await connectBus({ name: "bus-consume-reconnect", logger: silentLogger() });
    try {
      const handle = await consume({
        js: own.js,
        stream: def.name,
        durable: testDurable("reconnect"),
        filterSubjects: subject("reconnect"),
        logger: silentLogger(),
        handler: async (m) => {
          got.push(decoder.decode(m.data));
        },
      });
      for (const n of ["1", "2"]) await publish(bus.js, subject("reconnect"), encoder.encode(n));
      await waitFor(() => got.length >= 2, "messages before the reconnect");
      const reconnected = (async () => {
        for await (const s of own.nc.status()) if (s.type === "reconnect") return;
      })();
      await own.nc.reconnect();
      await reconnected;
      for (const n of ["3", "4"]) await publish(bus.js, subject("reconnect"), encoder.encode(n));
      await waitFor(() => got.length >= 4, "messages after the reconnect", 15_000);
      await handle.stop();
      expect(got).toEqual(["1", "2", "3", "4"]);
    } finally {
      await own.close();
    }
  });

  it("recreates its durable when it is deleted under it", async () => {
    const got: string[] = [];
    const handle = await start("recreate", async (m) => {
      got.push(decoder.decode(m.data));
    });
    await publish(bus.js, subject("recreate"), encoder.encode("before"));
    await waitFor(() => got.length >= 1, "the first message");
    await bus.jsm.consumers.delete(def.name, handle.durable);
    await waitFor(
      async () =>
        (await bus.jsm.consumers.info(def.name, handle.durable).catch(() => undefined)) !== undefined,
      "the durable to be recreated",
    );
    await publish(bus.js, subject("recreate"), encoder.encode("after"));
    await waitFor(() => got.includes("after"), "a message after the recreation", 15_000);
  });

  it("updates an existing durable to a new configuration and stops cleanly mid-handler", async () => {
    const durable = testDurable("update");
    let started = 0;
    let finished = 0;
    const base = {
      js: consumerBus.js,
      stream: def.name,
      durable,
      filterSubjects: subject("update"),
      logger: silentLogger(),
    };
    const first = await consume({
      ...base,
      ackWait: 5_000,
      maxDeliver: 5,
      handler: async () => {
        started++;
        await new Promise((resolve) => setTimeout(resolve, 300));
        finished++;
      },
    });
    await publish(bus.js, subject("update"), encoder.encode("slow"));
    // In the handler itself: a message the client holds but has not handed over yet is left unacked by
    // stop() (redelivered later), so the delivery count alone would not say the handler is running.
    await waitFor(() => started === 1, "the message in the handler");
    await first.stop();
    expect(finished).toBe(1);
    await waitFor(
      async () => (await bus.jsm.consumers.info(def.name, durable)).num_ack_pending === 0,
      "the ack",
    );

    const second = await consume({ ...base, ackWait: 7_000, maxDeliver: 3, handler: async () => {} });
    handles.push(second);
    const info = await bus.jsm.consumers.info(def.name, durable);
    expect(info.config.ack_wait).toBe(nanos(7_000));
    expect(info.config.max_deliver).toBe(3);
  });

  it("rejects invalid options with clear errors", async () => {
    const base = { js: consumerBus.js, stream: def.name, handler: async () => {}, logger: silentLogger() };
    await expect(consume({ ...base, durable: testDurable("bad"), filterSubjects: [] })).rejects.toThrow(
      /at least one filter subject/,
    );
    await expect(
      consume({ ...base, durable: testDurable("bad"), filterSubjects: subject("bad"), maxDeliver: 0 }),
    ).rejects.toThrow(/maxDeliver/);
    await expect(
      consume({
        ...base,
        stream: `${def.name}_MISSING`,
        durable: testDurable("bad"),
        filterSubjects: subject("x"),
      }),
    ).rejects.toThrow(/stream not found/i);
    const two = consume({
      ...base,
      durable: testDurable("two"),
      filterSubjects: [subject("a"), subject("b")],
    });
    if (serverAtLeast(bus.nc, "2.10.0")) handles.push(await two);
    else await expect(two).rejects.toThrow(/2\.10/);
  });
});
