import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import type { Row } from "@ostmesh/db";
import { EventTypes } from "@ostmesh/proto";
import { ActorSchema, PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { EventOrigin, TicketState } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { AggregateType, type Event, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import {
  type ThreadEntry,
  type TicketStatusRef,
  TicketStatusRefSchema,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import {
  entryAuthor,
  entryFromRow,
  num,
  str,
  ticketContext,
  ticketFromRow,
  timestampOf,
} from "../osticket/reads.ts";

/**
 * osTicket rows -> events (origin OSTICKET). Ids are stable source keys, so the same row always yields the
 * same event id: `osticket-<ost_thread_event.id>` for thread events (as the contract names them) and
 * `osticket-entry-<ost_thread_entry.id>` for thread entries.
 */

export const threadEventId = (id: number) => `osticket-${id}`;
export const threadEntryEventId = (id: number) => `osticket-entry-${id}`;

/** A status as ost_ticket_status describes it. */
export interface StatusInfo {
  readonly id: number;
  readonly name: string;
  readonly state: TicketState;
}

export interface ThreadEventInput {
  /** ost_thread_event row with `event_name` (ost_event.name) and `ts` = UNIX_TIMESTAMP(timestamp). */
  readonly row: Row;
  /** The ticket (loadTicketRow); undefined when it is gone. */
  readonly ticket: Row | undefined;
  /** The ticket's first message, for `created`. */
  readonly firstMessage: ThreadEntry | undefined;
  readonly status: (id: number) => StatusInfo | undefined;
}

function parseData(data: unknown): Record<string, unknown> {
  if (typeof data !== "string" || data === "") return {};
  try {
    const parsed: unknown = JSON.parse(data);
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? { ...parsed } : {};
  } catch {
    return {};
  }
}

/** `5` or `[5, "Name"]` -> [5, "Name"]. */
function idAndName(value: unknown): [number, string] | undefined {
  if (typeof value === "number" || (typeof value === "string" && /^\d+$/.test(value)))
    return [Number(value), ""];
  if (Array.isArray(value) && value.length > 0) return [num(value[0]), str(value[1])];
  return undefined;
}

function statusRef(info: StatusInfo | undefined, fallback: [number, string] | undefined): TicketStatusRef {
  return create(TicketStatusRefSchema, {
    id: info?.id ?? fallback?.[0] ?? 0,
    name: info?.name || fallback?.[1] || "",
    state: info?.state ?? TicketState.UNSPECIFIED,
  });
}

/** Field mask paths (TicketPatch names) for the keys osTicket records in an `edited` event. */
const EDITED_PATHS: Readonly<Record<string, string>> = {
  topic_id: "topic_id",
  topic: "topic_id",
  sla_id: "sla_id",
  sla: "sla_id",
  duedate: "due_date",
  priority: "priority_id",
  priority_id: "priority_id",
  user_id: "user_id",
  source: "source",
  fields: "answers",
  subject: "subject",
};

function actorOfThreadEvent(row: Row) {
  const uid = num(row.uid);
  const username = str(row.username);
  if (str(row.uid_type) === "S" && uid)
    return create(ActorSchema, { kind: PrincipalKind.AGENT, id: uid, username, displayName: username });
  if (str(row.uid_type) === "U" && uid)
    return create(ActorSchema, { kind: PrincipalKind.END_USER, id: uid, displayName: username });
  return create(ActorSchema, {
    kind: PrincipalKind.SYSTEM,
    displayName: username || "SYSTEM",
    username: "SYSTEM",
  });
}

/**
 * The event for an osTicket thread event of a ticket, or undefined for kinds that have no event type
 * (viewed, referred, collab, login, ...) and for tickets that can no longer be read.
 */
export function eventFromThreadEvent(input: ThreadEventInput): Event | undefined {
  const { row, ticket } = input;
  if (!ticket) return undefined;
  const id = num(row.id);
  const data = parseData(row.data);
  const context = ticketContext(ticket, {
    deptId: num(row.dept_id) || num(ticket.dept_id),
    topicId: num(row.topic_id),
    staffId: num(row.staff_id),
    teamId: num(row.team_id),
  });
  const base = {
    id: threadEventId(id),
    occurredAt: timestampOf(row.ts),
    origin: EventOrigin.OSTICKET,
    actor: actorOfThreadEvent(row),
    aggregate: { type: AggregateType.TICKET, id: num(ticket.ticket_id) },
    ticket: context,
    threadEventId: id,
  };
  const current = () => input.status(num(ticket.status_id));
  switch (str(row.event_name)) {
    case "created":
      return create(EventSchema, {
        ...base,
        type: EventTypes.TICKET_CREATED,
        // osTicket's PHP side sent its own alerts and auto-response for this ticket.
        payload: {
          case: "ticketCreated",
          value: {
            ticket: ticketFromRow(ticket),
            message: input.firstMessage,
            alert: false,
            autorespond: false,
          },
        },
      });
    case "closed": {
      const named = idAndName(data.status);
      return create(EventSchema, {
        ...base,
        type: EventTypes.TICKET_STATUS_CHANGED,
        payload: {
          case: "ticketStatusChanged",
          value: { current: statusRef(named ? input.status(named[0]) : current(), named), closed: true },
        },
      });
    }
    case "reopened":
      return create(EventSchema, {
        ...base,
        type: EventTypes.TICKET_STATUS_CHANGED,
        payload: {
          case: "ticketStatusChanged",
          value: { current: statusRef(current(), undefined), reopened: true },
        },
      });
    case "edited": {
      const named = idAndName(data.status);
      if (named) {
        return create(EventSchema, {
          ...base,
          type: EventTypes.TICKET_STATUS_CHANGED,
          payload: {
            case: "ticketStatusChanged",
            value: { current: statusRef(input.status(named[0]), named) },
          },
        });
      }
      const paths = [
        ...new Set(Object.keys(data).map((k) => EDITED_PATHS[k] ?? k.replace(/[^a-z0-9_]/gi, "_"))),
      ];
      return create(EventSchema, {
        ...base,
        type: EventTypes.TICKET_UPDATED,
        payload: {
          case: "ticketUpdated",
          value: { changed: create(FieldMaskSchema, { paths }), ticket: ticketFromRow(ticket) },
        },
      });
    }
    case "assigned":
    case "released": {
      const released = str(row.event_name) === "released";
      const claim = data.claim === true;
      const staff = claim ? [num(row.uid), str(row.username)] : idAndName(data.staff);
      const team = idAndName(data.team);
      return create(EventSchema, {
        ...base,
        type: EventTypes.TICKET_ASSIGNED,
        payload: {
          case: "ticketAssigned",
          value: {
            staff:
              !released && staff && staff[0]
                ? { id: Number(staff[0]), name: String(staff[1] ?? "") }
                : undefined,
            team: !released && team && team[0] ? { id: team[0], name: team[1] } : undefined,
            claim,
            released,
          },
        },
      });
    }
    case "transferred":
      return create(EventSchema, {
        ...base,
        type: EventTypes.TICKET_TRANSFERRED,
        payload: {
          case: "ticketTransferred",
          value: { current: { id: context.deptId, name: str(data.dept) || str(ticket.dept_name) } },
        },
      });
    case "overdue":
      return create(EventSchema, {
        ...base,
        type: EventTypes.TICKET_OVERDUE,
        payload: {
          case: "ticketOverdue",
          value: { dueDate: timestampOf(ticket.duedate), estDueDate: timestampOf(ticket.est_duedate) },
        },
      });
    case "deleted":
      return create(EventSchema, {
        ...base,
        type: EventTypes.TICKET_DELETED,
        payload: { case: "ticketDeleted", value: { subject: str(ticket.subject) } },
      });
    default:
      return undefined;
  }
}

/** The event for a message, response or note osTicket added to a ticket's thread. */
export function eventFromEntry(entryRow: Row, ticket: Row): Event {
  const entry = entryFromRow(entryRow);
  return create(EventSchema, {
    id: threadEntryEventId(entry.id),
    type: EventTypes.TICKET_ENTRY_ADDED,
    occurredAt: entry.createdAt,
    origin: EventOrigin.OSTICKET,
    actor: entryAuthor(entryRow),
    aggregate: { type: AggregateType.TICKET, id: num(ticket.ticket_id) },
    ticket: ticketContext(ticket),
    // osTicket's PHP side e-mailed whoever it notifies about this entry itself.
    payload: {
      case: "threadEntryAdded",
      value: { entry, notify: false, viaEmail: str(entryRow.source).toLowerCase() === "email" },
    },
  });
}
