/** osTicket's column values ↔ the contract's enums. */
import { MessageFormat, TicketSource, TicketState } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { CollaboratorRole, ThreadEntryType } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { threadEntryType } from "./access.ts";

const SOURCES: ReadonlyArray<readonly [string, TicketSource]> = [
  ["web", TicketSource.WEB],
  ["email", TicketSource.EMAIL],
  ["phone", TicketSource.PHONE],
  ["api", TicketSource.API],
  ["other", TicketSource.OTHER],
];

/** ost_ticket.source / ost_thread_entry.source (compared case-insensitively; '' = unspecified). */
export function sourceOf(value: string): TicketSource {
  if (value === "") return TicketSource.UNSPECIFIED;
  const lower = value.toLowerCase();
  return SOURCES.find(([name]) => name === lower)?.[1] ?? TicketSource.OTHER;
}

/** The ost_ticket.source enum value of a TicketSource ('' for UNSPECIFIED). */
export function sourceColumn(source: TicketSource): string {
  switch (source) {
    case TicketSource.WEB:
      return "Web";
    case TicketSource.EMAIL:
      return "Email";
    case TicketSource.PHONE:
      return "Phone";
    case TicketSource.API:
      return "API";
    case TicketSource.OTHER:
      return "Other";
    default:
      return "";
  }
}

export function stateOf(value: string): TicketState {
  switch (value.toLowerCase()) {
    case "open":
      return TicketState.OPEN;
    case "closed":
      return TicketState.CLOSED;
    case "archived":
      return TicketState.ARCHIVED;
    case "deleted":
      return TicketState.DELETED;
    default:
      return TicketState.UNSPECIFIED;
  }
}

export function stateColumn(state: TicketState): string | undefined {
  switch (state) {
    case TicketState.OPEN:
      return "open";
    case TicketState.CLOSED:
      return "closed";
    case TicketState.ARCHIVED:
      return "archived";
    case TicketState.DELETED:
      return "deleted";
    default:
      return undefined;
  }
}

/**
 * ost_thread_entry.type letter → ThreadEntryType. The access rules map entry types too (end users never
 * see notes), so there is one mapping, the auth module's, and the reads use it through access.ts.
 */
export const entryTypeOf: (letter: string) => ThreadEntryType = threadEntryType;

export function entryTypeColumn(type: ThreadEntryType): string | undefined {
  switch (type) {
    case ThreadEntryType.MESSAGE:
      return "M";
    case ThreadEntryType.RESPONSE:
      return "R";
    case ThreadEntryType.NOTE:
      return "N";
    default:
      return undefined;
  }
}

export function formatOf(value: string): MessageFormat {
  switch (value.toLowerCase()) {
    case "html":
      return MessageFormat.HTML;
    case "text":
      return MessageFormat.TEXT;
    default:
      return MessageFormat.UNSPECIFIED;
  }
}

/** The domain's body format of a request's MessageFormat (UNSPECIFIED = text). */
export function bodyFormat(format: MessageFormat): "text" | "html" {
  return format === MessageFormat.HTML ? "html" : "text";
}

export function collaboratorRoleOf(letter: string): CollaboratorRole {
  switch (letter) {
    case "M":
      return CollaboratorRole.MESSAGE;
    case "N":
      return CollaboratorRole.NOTE;
    case "R":
      return CollaboratorRole.REPLY;
    default:
      return CollaboratorRole.UNSPECIFIED;
  }
}
