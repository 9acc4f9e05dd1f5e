import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
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

  it("leaves an Event that has an id, other payload types and unreadable bytes as they are", () => {
    const withId = event("osticket-9");
    expect(stampEventId({ id: "5", eventType: EventSchema.typeName, payload: withId })).toBe(withId);
    const other = new TextEncoder().encode("7:0");
    expect(stampEventId({ id: "5", eventType: "test.Other", payload: other })).toBe(other);
    const garbage = Uint8Array.of(0xff, 0xff, 0xff);
    expect(stampEventId({ id: "5", eventType: EventSchema.typeName, payload: garbage })).toBe(garbage);
  });
});
