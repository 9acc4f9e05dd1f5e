import type { MetadataCache } from "./reference/forms.ts";
import type { Sql } from "./sql.ts";
import type { LoggedThreadEvent } from "./thread/events.ts";
import type { FilterEmailAction } from "./ticket/filters.ts";

/**
 * Who performs a use case. `staff` is an agent (osTicket's `$thisstaff`), `user` an end user signed in to
 * the client portal (`$thisclient`), `system` anything else: API keys, e-mail ingestion, cron.
 */
export type Actor =
  | { readonly kind: "staff"; readonly staffId: number }
  | { readonly kind: "user"; readonly userId: number }
  | { readonly kind: "system" };

export const SYSTEM_ACTOR: Actor = { kind: "system" };

/**
 * The staff panel's "Ticket Notice" (`reply-to`): "Alert All", "Alert to User", "Do Not Send Alert" — whom
 * the first message of an agent's ticket is addressed to and who gets the new-ticket notice.
 */
export type TicketNotice = "all" | "user" | "none";

interface TicketEventBase {
  readonly ticketId: number;
  readonly number: string;
  readonly actor: Actor;
}

/** What changed, as the use cases report it; the RPC layer turns these into protobuf outbox events. */
export type TicketDomainEvent =
  | (TicketEventBase & {
      readonly type: "ticket.created";
      readonly threadId: number;
      readonly messageEntryId: number;
      readonly userId: number;
      readonly userCreated: boolean;
      readonly deptId: number;
      readonly topicId: number;
      readonly statusId: number;
      readonly staffId: number;
      readonly teamId: number;
      readonly source: string;
      readonly alert: boolean;
      readonly autorespond: boolean;
      /** The staff panel's "Ticket Notice" in effect on an agent's ticket (absent: not offered). */
      readonly ticketNotice?: TicketNotice;
      /** The response a filter's canned response was posted as (0 or absent: none). */
      readonly cannedReplyEntryId?: number;
      /** The canned response is e-mailed to the requester instead of the new-ticket auto-response. */
      readonly cannedReplyAutorespond?: boolean;
      /** What the filters' "Send an Email" actions send. */
      readonly filterEmails?: readonly FilterEmailAction[];
    })
  | (TicketEventBase & {
      readonly type: "ticket.response.posted";
      readonly entryId: number;
      readonly staffId: number;
      /** Whether the requester and collaborators are e-mailed the response (absent: as the caller asked). */
      readonly notify?: boolean;
    })
  | (TicketEventBase & {
      readonly type: "ticket.message.posted";
      readonly entryId: number;
      readonly userId: number;
      readonly reopened: boolean;
      /** An e-mailed bounce or auto-reply (nobody is alerted or auto-responded to). */
      readonly bounceOrAutoReply?: boolean;
    })
  | (TicketEventBase & {
      readonly type: "ticket.note.posted";
      readonly entryId: number;
      readonly staffId: number;
      readonly title: string;
    })
  | (TicketEventBase & {
      readonly type: "ticket.status.changed";
      readonly fromStatusId: number;
      readonly toStatusId: number;
      readonly state: string;
    })
  | (TicketEventBase & {
      readonly type: "ticket.assigned";
      readonly staffId: number;
      readonly teamId: number;
      readonly claim: boolean;
    })
  | (TicketEventBase & {
      readonly type: "ticket.released";
      readonly staffId: number;
      readonly teamId: number;
    })
  | (TicketEventBase & {
      readonly type: "ticket.transferred";
      readonly fromDeptId: number;
      readonly toDeptId: number;
    })
  | (TicketEventBase & { readonly type: "ticket.overdue" });

/**
 * Called once per change, inside the use case's transaction, with that transaction: the RPC layer
 * serialises the event and writes its outbox row there (see `writeOutboxRow`), so the change and its event
 * commit together.
 */
export type Emit = (event: TicketDomainEvent, tx: Sql) => Promise<void>;

/**
 * Pins SQL `NOW()` for a use case (`SET timestamp`), so timestamps and business-hour due dates can be
 * reproduced exactly. Without a clock the DB server's own clock is used, as osTicket does.
 */
export interface Clock {
  now(): Date;
}

/** Resolves whether an e-mail domain can receive mail (MX, else A/AAAA), as osTicket's verify_email_addrs. */
export type MailDomainVerifier = (domain: string) => Promise<boolean>;

export interface Ports {
  readonly emit?: Emit;
  readonly clock?: Clock;
  /** Form/field and event metadata shared across requests (short TTL); a fresh one per call when absent. */
  readonly metadata?: MetadataCache;
  readonly verifyMailDomain?: MailDomainVerifier;
  /** Random source for ticket numbers and lock codes (tests pass a seeded one); Math.random otherwise. */
  readonly random?: () => number;
  /**
   * Told of every ost_thread_event row the use case writes, so its outbox events can name them (change
   * capture tells ostmesh's writes from osTicket's by those ids).
   */
  readonly threadEventLogged?: (event: LoggedThreadEvent) => void;
  /** Told the database clock (epoch milliseconds) each use case started with, read with its config. */
  readonly clockRead?: (epochMs: number) => void;
}
