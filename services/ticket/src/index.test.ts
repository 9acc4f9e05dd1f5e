/**
 * The ticket service as a process wires it: events written by a call reach JetStream through the outbox
 * relay it runs (the outbox row id as Nats-Msg-Id and as the Event's id), and its configuration is
 * validated at start.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { type BusMessage, connectBus, consume, streamWildcard } from "@ostmesh/bus";
import { testDurable } from "@ostmesh/bus/testing/names.ts";
import { ConfigError } from "@ostmesh/kit";
import { EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadTicketServiceConfig } from "./config.ts";
import { type TicketHarness, ticketHarness } from "./testing/harness.ts";

let h: TicketHarness;

beforeAll(async () => {
  h = await ticketHarness("relay", { env: { TICKET_OUTBOX_RELAY: "true" } });
});
afterAll(async () => {
  await h?.close();
});

describe("ticket service process", () => {
  it("publishes the events of a call to JetStream through its outbox relay", async () => {
    const bus = await connectBus({ name: "ticket-relay-test" });
    const received: BusMessage[] = [];
    const consumer = await consume({
      js: bus.js,
      jsm: bus.jsm,
      nc: bus.nc,
      stream: h.stream.name,
      durable: testDurable("ticketrelay"),
      filterSubjects: streamWildcard(h.stream),
      handler: async (message) => {
        received.push(message);
      },
    });
    try {
      const res = await h.client.createTicket(
        {
          requester: { email: "relay@example.com", name: "Ray Lay" },
          subject: "Relayed",
          message: "to NATS",
        },
        { headers: await h.service() },
      );
      const deadline = Date.now() + 10_000;
      while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(received).toHaveLength(1);
      const [message] = received;
      expect(message?.subject).toBe(`${h.stream.subjectPrefix}.ticket.created`);
      const event = fromBinary(EventSchema, message?.data ?? new Uint8Array());
      // The relay marks the row once JetStream acknowledged it, which may be just after delivery.
      let row: Record<string, unknown> | undefined;
      while (Date.now() < deadline) {
        [row] = await h.query(
          "SELECT id, published_at IS NOT NULL AS published FROM ostmesh_outbox ORDER BY id DESC LIMIT 1",
        );
        if (row?.published === 1) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(event.id).toBe(String(row?.id));
      expect(message?.messageId).toBe(String(row?.id));
      expect(event.ticket?.ticketId).toBe(res.ticket?.id);
      expect(row?.published).toBe(1);
    } finally {
      await consumer.stop();
      await bus.jsm.consumers.delete(h.stream.name, consumer.durable).catch(() => false);
      await bus.close();
    }
  });

  it("refuses a bad configuration naming the variable", () => {
    expect(() => loadTicketServiceConfig({ TICKET_PAGE_TOKEN_SECRET: "short" })).toThrow(ConfigError);
    expect(() => loadTicketServiceConfig({ TICKET_OVERDUE_BATCH: "0" })).toThrow(/TICKET_OVERDUE_BATCH/);
    expect(loadTicketServiceConfig({})).toMatchObject({
      runOutboxRelay: true,
      overdueBatchSize: 100,
      dbPoolMax: 20,
    });
  });
});
