/**
 * Ticket events into the transactional outbox (DESIGN principle 4): written with the EntityManager of the
 * change's own transaction, so an event exists if and only if its change committed. The relay publishes
 * them to JetStream with the outbox id as Nats-Msg-Id; the Event's own id is that outbox id too.
 */
import { clone, create, isMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { isSpanContextValid, trace } from "@opentelemetry/api";
import { deferOutbox, eventSubject } from "@ostmesh/bus";
import type { EntityManager } from "@ostmesh/db";
import type { EventType } from "@ostmesh/proto";
import type { Actor } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { EventOrigin } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { AggregateType, type Event, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { ThreadEntrySchema, type Ticket } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";

export type EventPayload = MessageInitShape<typeof EventSchema>["payload"];

export interface TicketEvent {
  readonly type: EventType;
  /** The ticket as it is after the change (before it, for a deletion). */
  readonly ticket: Ticket;
  readonly actor: Actor;
  readonly occurredAt: Timestamp;
  readonly payload: EventPayload;
  /** The ost_thread_event row the change wrote for this event, 0 for none. */
  readonly threadEventId?: number;
  /** The other ost_thread_event rows written in the same transaction. */
  readonly relatedThreadEventIds?: readonly number[];
}

/** Writes ticket events under a subject prefix (`osticket.events` in production; per test run in tests). */
export class TicketEventWriter {
  readonly #subjectPrefix: string;

  constructor(subjectPrefix: string) {
    this.#subjectPrefix = subjectPrefix;
  }

  /**
   * Adds one event to the outbox inside `em`'s transaction. The row is deferred: it travels with the
   * transaction's next statement or its commit (the relay publishes it once committed).
   */
  write(em: EntityManager, e: TicketEvent): void {
    const span = trace.getActiveSpan()?.spanContext();
    const t = e.ticket;
    const event = create(EventSchema, {
      type: e.type,
      occurredAt: e.occurredAt,
      origin: EventOrigin.OSTMESH,
      actor: e.actor,
      traceId: span && isSpanContextValid(span) ? span.traceId : "",
      aggregate: { type: AggregateType.TICKET, id: t.id },
      ticket: {
        ticketId: t.id,
        number: t.number,
        deptId: t.department?.id ?? 0,
        topicId: t.helpTopic?.id ?? 0,
        staffId: t.assigneeStaff?.id ?? 0,
        teamId: t.assigneeTeam?.id ?? 0,
        userId: t.requester?.id ?? 0,
        statusId: t.status?.id ?? 0,
        state: t.status?.state ?? 0,
      },
      payload: e.payload,
      threadEventId: e.threadEventId ?? 0,
      relatedThreadEventIds: [...(e.relatedThreadEventIds ?? [])],
    });
    const [aggregate = "ticket", name = ""] = e.type.split(".");
    // The Event's id is its outbox row id, known only once the row exists: the relay puts it in when it
    // publishes (stampEventId), so the change costs no second write of the payload.
    deferOutbox(em, {
      subject: eventSubject({ subjectPrefix: this.#subjectPrefix }, aggregate, name),
      eventType: EventSchema.typeName,
      aggregateType: "ticket",
      aggregateId: t.id,
      payload: encodeWithinBudget(event),
    });
  }
}

/**
 * Above this size an event carries its thread entries without their bodies (ThreadEntry.body_omitted):
 * a message of a megabyte is osTicket's to store, yet every subscriber need not receive it (and the bus
 * carries at most about 1 MiB in one message).
 */
export const EVENT_BODY_BUDGET = 256 * 1024;

/** The event's bytes; past EVENT_BODY_BUDGET, those of a copy whose entries leave their bodies out. */
function encodeWithinBudget(event: Event): Uint8Array {
  const bytes = toBinary(EventSchema, event);
  if (bytes.byteLength <= EVENT_BODY_BUDGET) return bytes;
  // A copy: the entries may be the very objects the RPC answers with.
  const lean = clone(EventSchema, event);
  return omitBodies(lean.payload.value) ? toBinary(EventSchema, lean) : bytes;
}

/** Empties the body of every thread entry in `value` (at any depth) and marks it omitted; true if any. */
function omitBodies(value: unknown): boolean {
  if (typeof value !== "object" || value === null || value instanceof Uint8Array) return false;
  if (isMessage(value, ThreadEntrySchema)) {
    if (value.body === "") return false;
    value.body = "";
    value.bodyOmitted = true;
    return true;
  }
  // Messages, lists and oneof cases alike.
  let omitted = false;
  for (const field of Object.values(value)) if (omitBodies(field)) omitted = true;
  return omitted;
}
