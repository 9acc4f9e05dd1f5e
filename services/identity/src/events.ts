import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { isSpanContextValid, trace } from "@opentelemetry/api";
import { writeOutbox } from "@ostmesh/bus";
import type { EntityManager } from "@ostmesh/db";
import { query } from "@ostmesh/db";
import { num } from "@ostmesh/kit/auth/index.ts";
import { EVENT_SUBJECT_PREFIX, type EventType, EventTypes } from "@ostmesh/proto";
import { type Principal, PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { EventOrigin } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { AggregateType, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";

type Payload = MessageInitShape<typeof EventSchema>["payload"];

const AGGREGATES: Readonly<Record<string, { type: AggregateType; name: string }>> = {
  [EventTypes.USER_CREATED]: { type: AggregateType.USER, name: "user" },
  [EventTypes.USER_UPDATED]: { type: AggregateType.USER, name: "user" },
  [EventTypes.ORGANIZATION_CREATED]: { type: AggregateType.ORGANIZATION, name: "organization" },
  [EventTypes.ORGANIZATION_UPDATED]: { type: AggregateType.ORGANIZATION, name: "organization" },
};

/**
 * Records a directory change in the transactional outbox, inside the caller's transaction (DESIGN
 * principle 4): the event commits or rolls back with the change. The Event's id is the outbox row id
 * (also the relay's Nats-Msg-Id), so the payload is rewritten once the row exists.
 */
export async function recordEvent(
  em: EntityManager,
  options: {
    type: EventType;
    aggregateId: number;
    actor: Principal;
    payload: Payload;
    subjectPrefix?: string;
  },
): Promise<string> {
  const aggregate = AGGREGATES[options.type];
  if (!aggregate) throw new Error(`not a directory event: ${options.type}`);
  const [now] = await query(
    em,
    "SELECT TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) DIV 1000 AS ms",
  );
  const actor = options.actor.actor;
  const span = trace.getActiveSpan()?.spanContext();
  const event = create(EventSchema, {
    type: options.type,
    occurredAt: timestampFromMs(num(now?.ms)),
    origin: EventOrigin.OSTMESH,
    actor: actor ?? { kind: PrincipalKind.SYSTEM, displayName: "SYSTEM", username: "SYSTEM" },
    traceId: span && isSpanContextValid(span) ? span.traceId : "",
    aggregate: { type: aggregate.type, id: options.aggregateId },
    payload: options.payload,
  });
  const subject = `${options.subjectPrefix ?? EVENT_SUBJECT_PREFIX}.${options.type}`;
  const { id } = await writeOutbox(em, {
    subject,
    eventType: EventSchema.typeName,
    aggregateType: aggregate.name,
    aggregateId: options.aggregateId,
    payload: toBinary(EventSchema, event),
  });
  // Event.id is the outbox id, put in by the relay when it publishes (stampEventId).
  return id;
}
