/**
 * The domain's events (what a use case did, in its own words) as the contract's Event payloads, written to
 * the outbox in the use case's transaction. Status changes the domain makes on the side (a reply or note
 * with a status, a message that reopens, an assignment or transfer that reopens a closed ticket) are found
 * by comparing the ticket before and after, so every change has its event. Each event names the thread event
 * it was written with (`Mutation.threadEventOf`) and the transaction's other thread events, so change capture
 * recognises every thread row ostmesh wrote by id.
 */
import { create } from "@bufbuild/protobuf";
import { EventTypes } from "@ostmesh/proto";
import { TicketState } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import {
  type AgentRef,
  AgentRefSchema,
  type TeamRef,
  TeamRefSchema,
  type Ticket,
  TicketNotice,
  type TicketStatusRef,
  TicketStatusRefSchema,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import type { TicketNotice as TicketNoticeChoice } from "../domain/index.ts";
import type { Mutation } from "./mutation.ts";

export interface PublishOptions {
  /** The ticket before the use case ran (actions on existing tickets). */
  readonly before?: Ticket;
  /** The ticket after it (absent when it was deleted). */
  readonly after?: Ticket;
  /** The comment note an action posted (status, assignment, transfer), 0 for none. */
  readonly noteEntryId?: number;
  /** PostReply: the requester and collaborators are to be e-mailed. */
  readonly notify?: boolean;
  /** The entries came in by e-mail (IngestEmail). */
  readonly viaEmail?: boolean;
}

/** The domain's "Ticket Notice" as the contract's enum (UNSPECIFIED where none was offered). */
function ticketNoticeEnum(notice: TicketNoticeChoice | undefined): TicketNotice {
  switch (notice) {
    case "all":
      return TicketNotice.ALL;
    case "user":
      return TicketNotice.USER;
    case "none":
      return TicketNotice.NONE;
    default:
      return TicketNotice.UNSPECIFIED;
  }
}

function statusRef(ticket: Ticket | undefined): TicketStatusRef | undefined {
  return ticket?.status ? create(TicketStatusRefSchema, ticket.status) : undefined;
}

function agentRef(ticket: Ticket | undefined): AgentRef | undefined {
  return ticket?.assigneeStaff ? create(AgentRefSchema, ticket.assigneeStaff) : undefined;
}

function teamRef(ticket: Ticket | undefined): TeamRef | undefined {
  return ticket?.assigneeTeam ? create(TeamRefSchema, ticket.assigneeTeam) : undefined;
}

/** Writes the outbox events for everything the domain reported during `m`. */
export async function publishDomainEvents(m: Mutation, o: PublishOptions): Promise<void> {
  await m.settle();
  const { before, after } = o;
  let statusEvent = false;
  let reopened = false;
  for (const e of m.domainEvents) {
    switch (e.type) {
      case "ticket.created": {
        if (!after) break;
        const message = await m.entry(e.messageEntryId);
        await m.event(
          EventTypes.TICKET_CREATED,
          after,
          {
            case: "ticketCreated",
            value: {
              ticket: after,
              message,
              alert: e.alert,
              autorespond: e.autorespond,
              newUser: e.userCreated,
              ticketNotice: ticketNoticeEnum(e.ticketNotice),
              cannedReplyEntryId: e.cannedReplyEntryId ?? 0,
              cannedReplyAutorespond: e.cannedReplyAutorespond ?? false,
              filterEmails: (e.filterEmails ?? []).map((f) => ({ ...f })),
            },
          },
          m.threadEventOf("created"),
        );
        break;
      }
      case "ticket.response.posted":
      case "ticket.message.posted":
      case "ticket.note.posted": {
        if (!after) break;
        const entry = await m.entry(e.entryId);
        if (e.type === "ticket.message.posted" && e.reopened) reopened = true;
        await m.event(EventTypes.TICKET_ENTRY_ADDED, after, {
          case: "threadEntryAdded",
          value: {
            entry,
            notify: e.type === "ticket.response.posted" ? (e.notify ?? o.notify ?? true) : false,
            viaEmail: o.viaEmail ?? false,
            bounceOrAutoReply: e.type === "ticket.message.posted" && e.bounceOrAutoReply === true,
          },
        });
        break;
      }
      case "ticket.status.changed": {
        statusEvent = true;
        if (e.state === "deleted") {
          if (!before) break;
          await m.event(
            EventTypes.TICKET_DELETED,
            before,
            {
              case: "ticketDeleted",
              value: { subject: before.subject },
            },
            m.threadEventOf("deleted"),
          );
          break;
        }
        if (!after) break;
        await writeStatusChange(m, before, after, o.noteEntryId ?? 0);
        break;
      }
      case "ticket.assigned":
      case "ticket.released": {
        if (!after) break;
        await m.event(
          EventTypes.TICKET_ASSIGNED,
          after,
          {
            case: "ticketAssigned",
            value: {
              previousStaff: agentRef(before),
              previousTeam: teamRef(before),
              staff: agentRef(after),
              team: teamRef(after),
              claim: e.type === "ticket.assigned" && e.claim,
              released: e.type === "ticket.released",
              noteEntryId: o.noteEntryId ?? 0,
            },
          },
          m.threadEventOf(e.type === "ticket.released" ? "released" : "assigned"),
        );
        break;
      }
      case "ticket.transferred": {
        if (!after) break;
        const from = m.ref.departments.get(e.fromDeptId);
        await m.event(
          EventTypes.TICKET_TRANSFERRED,
          after,
          {
            case: "ticketTransferred",
            value: {
              previous: { id: e.fromDeptId, name: from?.name ?? before?.department?.name ?? "" },
              current: after.department,
              noteEntryId: o.noteEntryId ?? 0,
            },
          },
          m.threadEventOf("transferred"),
        );
        break;
      }
      case "ticket.overdue": {
        if (!after) break;
        await m.event(
          EventTypes.TICKET_OVERDUE,
          after,
          {
            case: "ticketOverdue",
            value: { dueDate: after.dueDate, estDueDate: after.estDueDate },
          },
          m.threadEventOf("overdue"),
        );
        break;
      }
    }
  }
  // A status changed as a side effect (reply/note status, reopen by message, assignment or transfer).
  if (statusEvent || !after) return;
  if (before ? before.status?.id !== after.status?.id : reopened)
    await writeStatusChange(m, before, after, 0);
}

async function writeStatusChange(
  m: Mutation,
  before: Ticket | undefined,
  after: Ticket,
  noteEntryId: number,
) {
  const was = before?.status?.state;
  const now = after.status?.state;
  await m.event(
    EventTypes.TICKET_STATUS_CHANGED,
    after,
    {
      case: "ticketStatusChanged",
      value: {
        previous: statusRef(before),
        current: statusRef(after),
        closed: now === TicketState.CLOSED && was !== TicketState.CLOSED,
        // Without the state before (a reply by e-mail), only a reopening is reported, so it was closed.
        reopened: (before ? was === TicketState.CLOSED : true) && now === TicketState.OPEN,
        noteEntryId,
      },
    },
    m.threadEventOf("closed", "reopened", "edited"),
  );
}
