import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { describe, expect, it } from "vitest";
import { stampEventId } from "./index.ts";

describe("stampEventId", () => {
  const event = (id: string) =>
    toBinary(
      EventSchema,
      create(EventSchema, { id, type: "ticket.created", aggregate: { id: 42 }, threadEventId: 7 }),
    );

  it("gives an Event written without an id the outbox row's id, and keeps everything else", () => {
    const stamped = fromBinary(
      EventSchema,
      stampEventId({ id: "1234", eventType: EventSchema.typeName, payload: event("") }),
    );
    expect(stamped.id).toBe("1234");
    expect(stamped.type).toBe("ticket.created");
    expect(stamped.aggregate?.id).toBe(42);
    expect(stamped.threadEventId).toBe(7);
  });

  it("reads as the same Event with the id set, a whole ticket in its payload included", () => {
    const written = create(EventSchema, {
      type: "ticket.created",
      aggregate: { id: 42 },
      payload: {
        case: "ticketCreated",
        value: { ticket: { id: 42, number: "123456", subject: "Printer", requester: { name: "Jane" } } },
      },
    });
    const stamped = stampEventId({
      id: "98765",
      eventType: EventSchema.typeName,
      payload: toBinary(EventSchema, written),
    });
    const expected = create(EventSchema, { ...written, id: "98765" });
    expect(equals(EventSchema, fromBinary(EventSchema, stamped), expected)).toBe(true);
    // Stamping what was stamped changes nothing.
    expect(stampEventId({ id: "1", eventType: EventSchema.typeName, payload: stamped })).toBe(stamped);
  });

  it("leaves an Event that has an id, other payload types and unreadable bytes as they are", () => {
    const withId = event("osticket-9");
    expect(stampEventId({ id: "5", eventType: EventSchema.typeName, payload: withId })).toBe(withId);
    const other = new TextEncoder().encode("7:0");
    expect(stampEventId({ id: "5", eventType: "test.Other", payload: other })).toBe(other);
    const garbage = Uint8Array.of(0xff, 0xff, 0xff);
    expect(stampEventId({ id: "5", eventType: EventSchema.typeName, payload: garbage })).toBe(garbage);
  });
});
