/**
 * osTicket's merged and linked tickets (Ticket::merge, Ticket::manageMerge, include/class.ticket.php): what
 * ost_ticket.ticket_pid and ost_ticket.flags say about a ticket, and the rules its staff panel and client
 * portal apply to a merged child.
 */
import { TicketActionError } from "../errors.ts";

/** ost_ticket.flags bits of merging and linking. */
export const TicketFlag = {
  COMBINE_THREADS: 0x01,
  SEPARATE_THREADS: 0x02,
  LINKED: 0x08,
  PARENT: 0x10,
} as const;

/**
 * Ticket::getMergeType: `combine` (the children's entries moved into the parent's thread, shown in date
 * order), `separate` (moved too, shown after the parent's own entries, child by child) or `visual` (a link,
 * or no relation at all: threads stay apart).
 */
export type MergeType = "combine" | "separate" | "visual";

export function mergeTypeOf(flags: number): MergeType {
  if ((flags & TicketFlag.COMBINE_THREADS) !== 0) return "combine";
  if ((flags & TicketFlag.SEPARATE_THREADS) !== 0) return "separate";
  return "visual";
}

/** What a ticket's row says of its relations. */
export interface TicketRelation {
  /** ost_ticket.ticket_pid, 0 for none. */
  readonly parentId: number;
  readonly flags: number;
}

/**
 * A merged child (Ticket::isChild with a merge type other than visual): its thread became a child thread
 * ('C'), its entries live in the parent's thread, and osTicket lets nobody reply on it.
 */
export function isMergedChild(t: TicketRelation): boolean {
  return t.parentId !== 0 && mergeTypeOf(t.flags) !== "visual";
}

/**
 * What the staff panel's ticket view does for a merged child ($blockReply, include/staff/ticket-view.inc.php):
 * neither the reply nor the internal-note form is offered ("Child Tickets do not allow the end user or agent
 * to reply."); the error names the parent to post on instead.
 */
export function refuseOnMergedChild(
  t: TicketRelation & { readonly number: string },
  parentNumber: string,
): void {
  if (!isMergedChild(t)) return;
  const parent = parentNumber ? `#${parentNumber} (id ${t.parentId})` : `id ${t.parentId}`;
  throw new TicketActionError(
    "err",
    `Child Tickets do not allow the end user or agent to reply: ticket #${t.number} is merged into ticket ${parent}`,
  );
}
