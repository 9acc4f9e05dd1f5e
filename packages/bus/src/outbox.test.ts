import { trace } from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processOnce, pruneInbox } from "./inbox.ts";
import {
  DEFAULT_MAX_OUTBOX_PAYLOAD,
  type OutboxEvent,
  OutboxValidationError,
  writeOutbox,
} from "./outbox.ts";
import { createOutboxDatabase, type OutboxDatabase } from "./testing/database.ts";
import { installTestTracing } from "./testing/tracing.ts";

const { exporter, provider } = installTestTracing();
let database: OutboxDatabase;

beforeAll(async () => {
  database = await createOutboxDatabase("outbox");
});

afterAll(async () => {
  await database.close();
});

interface StoredRow {
  id: string | number;
  subject: string;
  event_type: string;
  aggregate_type: string;
  aggregate_id: string;
  payload: Buffer;
  headers: string | null;
  published_at: string | null;
  attempts: number;
}

async function rows(): Promise<StoredRow[]> {
  return database.orm.em.fork().execute<StoredRow[]>("SELECT * FROM ostmesh_outbox ORDER BY id");
}

function event(overrides: Partial<OutboxEvent> = {}): OutboxEvent {
  return {
    subject: "osticket.events.ticket.created",
    eventType: "osticket.ticket.v1.TicketCreated",
    aggregateType: "ticket",
    aggregateId: 42,
    payload: new Uint8Array([1, 2, 3, 250]),
    ...overrides,
  };
}

describe("writeOutbox", () => {
  it("inserts in the caller's transaction with the active trace context in its headers", async () => {
    const tracer = trace.getTracer("test");
    const { id, spanId, traceId } = await tracer.startActiveSpan("create ticket", async (span) => {
      const result = await database.orm.em
        .fork()
        .transactional((em) => writeOutbox(em, event({ headers: { "X-Request-Id": "req-1" } })));
      span.end();
      return { ...result, spanId: span.spanContext().spanId, traceId: span.spanContext().traceId };
    });
    const [row] = (await rows()).filter((r) => String(r.id) === id);
    expect(row).toBeDefined();
    expect(row?.subject).toBe("osticket.events.ticket.created");
    expect(row?.event_type).toBe("osticket.ticket.v1.TicketCreated");
    expect(row?.aggregate_type).toBe("ticket");
    expect(row?.aggregate_id).toBe("42");
    expect([...(row?.payload ?? [])]).toEqual([1, 2, 3, 250]);
    expect(row?.published_at).toBeNull();
    expect(row?.attempts).toBe(0);
    const headers: unknown = JSON.parse(row?.headers ?? "null");
    expect(headers).toEqual({ traceparent: `00-${traceId}-${spanId}-01`, "X-Request-Id": "req-1" });
    await provider.forceFlush();
    expect(exporter.getFinishedSpans().map((s) => s.name)).toContain("create ticket");
  });

  it("stores no headers when there is no active span and none are given", async () => {
    const { id } = await database.orm.em.fork().transactional((em) => writeOutbox(em, event()));
    const row = (await rows()).find((r) => String(r.id) === id);
    expect(row?.headers).toBeNull();
  });

  it("rolls back with the transaction", async () => {
    const before = (await rows()).length;
    await expect(
      database.orm.em.fork().transactional(async (em) => {
        await writeOutbox(em, event({ aggregateId: "rolled-back" }));
        throw new Error("the ticket write failed");
      }),
    ).rejects.toThrow("the ticket write failed");
    const after = await rows();
    expect(after.length).toBe(before);
    expect(after.some((r) => r.aggregate_id === "rolled-back")).toBe(false);
  });

  it("refuses to write outside a transaction unless told to", async () => {
    const em = database.orm.em.fork();
    await expect(writeOutbox(em, event())).rejects.toThrow(OutboxValidationError);
    const { id } = await writeOutbox(em, event({ aggregateId: "standalone" }), { requireTransaction: false });
    expect((await rows()).find((r) => String(r.id) === id)?.aggregate_id).toBe("standalone");
  });

  it("rejects events that cannot be stored or published", async () => {
    const em = database.orm.em.fork();
    const cases: Array<[Partial<OutboxEvent>, RegExp]> = [
      [{ subject: "osticket.events.*" }, /invalid subject/],
      [{ subject: "osticket events" }, /invalid subject/],
      [{ subject: `a.${"x".repeat(260)}` }, /invalid subject/],
      [{ eventType: "" }, /eventType/],
      [{ aggregateType: "x".repeat(33) }, /aggregateType/],
      [{ aggregateId: "" }, /aggregateId/],
      [{ aggregateId: "9".repeat(65) }, /aggregateId/],
      [{ payload: new Uint8Array(DEFAULT_MAX_OUTBOX_PAYLOAD + 1) }, /exceeds the limit/],
      [{ headers: { "Nats-Msg-Id": "1" } }, /reserved/],
      [{ headers: { "bad name": "x" } }, /invalid header name/],
      [{ headers: { "X-Ok": "line\r\nbreak" } }, /single-line/],
    ];
    for (const [overrides, message] of cases) {
      await expect(em.transactional((tx) => writeOutbox(tx, event(overrides)))).rejects.toThrow(message);
    }
    await expect(
      em.transactional((tx) =>
        writeOutbox(tx, event({ payload: new Uint8Array(11) }), { maxPayloadBytes: 10 }),
      ),
    ).rejects.toThrow(/exceeds the limit of 10/);
  });
});

describe("processOnce", () => {
  it("runs the work once per consumer and message id, in the caller's transaction", async () => {
    let runs = 0;
    const work = async () => {
      runs++;
      return "done";
    };
    const first = await database.orm.em
      .fork()
      .transactional((em) => processOnce(em, "notification", "msg-1", work));
    const second = await database.orm.em
      .fork()
      .transactional((em) => processOnce(em, "notification", "msg-1", work));
    const otherConsumer = await processOnce(database.orm.em.fork(), "webhooks", "msg-1", work);
    expect(first).toEqual({ processed: true, value: "done" });
    expect(second).toEqual({ processed: false });
    expect(otherConsumer).toEqual({ processed: true, value: "done" });
    expect(runs).toBe(2);
  });

  it("leaves no record when the work fails, so the retry runs it", async () => {
    const em = database.orm.em.fork();
    await expect(
      processOnce(em, "notification", "msg-fail", async (tx) => {
        await tx.execute("INSERT INTO ostmesh_inbox (consumer, message_id) VALUES ('side-effect', 'x')");
        throw new Error("smtp down");
      }),
    ).rejects.toThrow("smtp down");
    const leftovers = await em.execute<{ n: number }[]>(
      "SELECT COUNT(*) AS n FROM ostmesh_inbox WHERE message_id IN ('msg-fail', 'x')",
    );
    expect(Number(leftovers[0]?.n)).toBe(0);
    const retry = await processOnce(em, "notification", "msg-fail", async () => 7);
    expect(retry).toEqual({ processed: true, value: 7 });
  });

  it("lets only one of two concurrent deliveries of a message do the work", async () => {
    let runs = 0;
    const deliver = () =>
      database.orm.em.fork().transactional((em) =>
        processOnce(em, "notification", "msg-race", async () => {
          runs++;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }),
      );
    const results = await Promise.all([deliver(), deliver(), deliver()]);
    expect(runs).toBe(1);
    expect(results.filter((r) => r.processed)).toHaveLength(1);
  });

  it("validates its keys", async () => {
    const em = database.orm.em.fork();
    await expect(processOnce(em, "", "m", async () => 1)).rejects.toThrow(/consumer/);
    await expect(processOnce(em, "c", "m".repeat(129), async () => 1)).rejects.toThrow(/messageId/);
  });

  it("prunes old inbox records only", async () => {
    const em = database.orm.em.fork();
    await em.execute(
      "INSERT INTO ostmesh_inbox (consumer, message_id, processed_at) VALUES ('old', 'a', NOW(6) - INTERVAL 2 DAY)",
    );
    await em.execute("INSERT INTO ostmesh_inbox (consumer, message_id) VALUES ('old', 'b')");
    expect(await pruneInbox(em, 24 * 3_600_000)).toBe(1);
    const left = await em.execute<{ message_id: string }[]>(
      "SELECT message_id FROM ostmesh_inbox WHERE consumer = 'old'",
    );
    expect(left.map((r) => r.message_id)).toEqual(["b"]);
  });
});
