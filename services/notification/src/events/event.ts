import { fromBinary } from "@bufbuild/protobuf";
import type { BusMessage } from "@ostmesh/bus";
import { eventTypeOf } from "@ostmesh/proto";
import { EventOrigin } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { type Event, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import type { EventFilter } from "@ostmesh/proto/gen/osticket/notification/v1/notification_service_pb.js";

/**
 * The Event a bus message carries. OSTMESH-origin events are written to the outbox before their id is known,
 * so an empty `id` takes the message's Nats-Msg-Id (the outbox id), and an empty `type` the payload's type.
 * Returns undefined for a body that is not an Event (consumers skip what they cannot read).
 */
export function decodeEvent(message: Pick<BusMessage, "data" | "messageId">): Event | undefined {
  let event: Event;
  try {
    event = fromBinary(EventSchema, message.data);
  } catch {
    return undefined;
  }
  if (event.id === "") event.id = message.messageId;
  if (event.type === "") event.type = eventTypeOf(event) ?? "";
  return event.type === "" ? undefined : event;
}

/** The id consumers deduplicate by (Event.id), bounded to the inbox's 128 characters. */
export function dedupeId(event: Event): string {
  return event.id.length <= 128 ? event.id : event.id.slice(0, 128);
}

const PATTERN = /^(\*|[a-z][a-z0-9_]*\.(\*|[a-z][a-z0-9_]*))$/;

/** Whether `pattern` is a valid event-type pattern: "ticket.created", "ticket.*" or "*". */
export function isEventTypePattern(pattern: string): boolean {
  return PATTERN.test(pattern);
}

/** Whether an event type matches any of the patterns; an empty list matches everything. */
export function matchesEventTypes(patterns: readonly string[], type: string): boolean {
  if (patterns.length === 0) return true;
  const aggregate = type.split(".")[0] ?? "";
  return patterns.some((p) => p === "*" || p === type || p === `${aggregate}.*`);
}

/** The part of EventFilter this module reads (plain data, as stored for webhooks). */
export interface EventFilterSpec {
  readonly deptIds: readonly number[];
  readonly topicIds: readonly number[];
  readonly origin: EventOrigin;
}

export function filterSpec(filter: EventFilter | undefined): EventFilterSpec {
  return {
    deptIds: [...(filter?.deptIds ?? [])],
    topicIds: [...(filter?.topicIds ?? [])],
    origin: filter?.origin ?? EventOrigin.UNSPECIFIED,
  };
}

/**
 * Whether an event passes a filter: every given criterion must match; ticket criteria never match events
 * without a ticket context.
 */
export function matchesFilter(filter: EventFilterSpec, event: Event): boolean {
  if (filter.origin !== EventOrigin.UNSPECIFIED && event.origin !== filter.origin) return false;
  if (filter.deptIds.length > 0 && !(event.ticket && filter.deptIds.includes(event.ticket.deptId)))
    return false;
  if (filter.topicIds.length > 0 && !(event.ticket && filter.topicIds.includes(event.ticket.topicId)))
    return false;
  return true;
}
