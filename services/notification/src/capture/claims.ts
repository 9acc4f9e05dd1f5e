import { EventOrigin } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import type { Event } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";

/**
 * What an ostmesh outbox event says about the osTicket rows written in its transaction. Change capture uses
 * these claims to tell ostmesh's own writes from osTicket's (see capture.ts):
 * - `event` / `entry`: the ost_thread_event / ost_thread_entry ids the event names (thread_event_id and
 *   related_thread_event_ids: every thread event the ticket service wrote in the event's transaction);
 * - `created`: a ticket ostmesh created — every thread row of that ticket written with the creation;
 * - `touch`: a ticket event that names no thread event at all (an older writer, or one that wrote none) —
 *   thread events of that ticket written within a couple of seconds of it are ostmesh's. Only a fallback: it
 *   can swallow an osTicket change made in that window, which exact ids never do.
 */
export type ClaimKind = "event" | "entry" | "created" | "touch";

export interface Claim {
  readonly kind: ClaimKind;
  readonly rowId: number;
}

/** The claims of one event read back from ostmesh's outbox (OSTICKET-origin events claim nothing). */
export function claimsOf(event: Event): Claim[] {
  if (event.origin === EventOrigin.OSTICKET) return [];
  const claims: Claim[] = [];
  const add = (kind: ClaimKind, rowId: number | undefined) => {
    if (rowId && rowId > 0) claims.push({ kind, rowId });
  };
  add("event", event.threadEventId);
  for (const id of event.relatedThreadEventIds) add("event", id);
  const p = event.payload;
  switch (p.case) {
    case "ticketCreated":
      add("entry", p.value.message?.id);
      add("created", p.value.ticket?.id ?? event.ticket?.ticketId ?? event.aggregate?.id);
      break;
    case "threadEntryAdded":
      add("entry", p.value.entry?.id);
      break;
    case "ticketStatusChanged":
      add("entry", p.value.noteEntryId);
      break;
    case "ticketAssigned":
      add("entry", p.value.noteEntryId);
      break;
    case "ticketTransferred":
      add("entry", p.value.noteEntryId);
      break;
    default:
      break;
  }
  const ticketId = event.ticket?.ticketId ?? 0;
  const namesThreadEvent = event.threadEventId > 0 || event.relatedThreadEventIds.length > 0;
  const isTicketChange =
    p.case === "ticketStatusChanged" ||
    p.case === "ticketAssigned" ||
    p.case === "ticketTransferred" ||
    p.case === "ticketUpdated" ||
    p.case === "ticketOverdue" ||
    p.case === "ticketDeleted";
  if (isTicketChange && !namesThreadEvent) add("touch", ticketId);
  return claims;
}
