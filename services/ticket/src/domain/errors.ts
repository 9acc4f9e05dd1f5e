/** One validation failure, keyed the way osTicket keys it (`user`, a form field id, `origin`, `err`, ...). */
export interface ValidationIssue {
  readonly key: string;
  readonly message: string;
}

/**
 * A request osTicket would refuse. `issues` keep osTicket's order, keys and texts so the legacy API can
 * reproduce its response body; nothing has been written when this is thrown.
 */
export class TicketValidationError extends Error {
  readonly issues: readonly ValidationIssue[];
  /** osTicket's `errno` (403 for a denied ticket), null for ordinary validation failures. */
  readonly errno: number | null;

  constructor(issues: readonly ValidationIssue[], errno: number | null = null) {
    super(issues.map((i) => `${i.key}: ${i.message}`).join("; ") || "invalid request");
    this.name = "TicketValidationError";
    this.issues = issues;
    this.errno = errno;
  }

  /** The error map flattened the way osTicket's legacy API prints it: `key\nmessage\nkey\nmessage`. */
  legacyText(): string {
    return this.issues.flatMap((i) => [i.key, i.message]).join("\n");
  }
}

/**
 * Ticket creation refused by the ban list or by a ticket filter's reject action (osTicket answers 403
 * "Ticket denied" alike). `filter` is the rejecting filter; none for the ban list (and unregistered senders).
 */
export class TicketDeniedError extends TicketValidationError {
  readonly email: string;
  readonly filter: { readonly id: number; readonly name: string } | undefined;
  /** Refused as an unregistered sender (e-mail, `accept_unregistered_email` off), not by a filter. */
  readonly unregistered: boolean;
  constructor(
    email: string,
    filter?: { readonly id: number; readonly name: string },
    options: { unregistered?: boolean } = {},
  ) {
    super([{ key: "err", message: "This help desk is for use by authorized users only" }], 403);
    this.name = "TicketDeniedError";
    this.email = email;
    this.filter = filter;
    this.unregistered = options.unregistered ?? false;
  }

  /** The warning osTicket's Ticket::create logs for the refusal (its `$reject_ticket`). */
  get logEntry(): SystemLogWarning {
    return {
      title: "Ticket denied",
      message: this.unregistered
        ? `Ticket rejected (${this.email}) (unregistered client)`
        : `Ticket rejected (${this.email}) by filter "${this.filter?.name ?? BAN_LIST_NAME}"`,
    };
  }
}

/** The name of osTicket's ban list, itself a ticket filter. */
export const BAN_LIST_NAME = "SYSTEM BAN LIST";

/** A warning osTicket writes to its system log (ost_syslog) when it refuses a ticket. */
export interface SystemLogWarning {
  readonly title: string;
  readonly message: string;
}

/** The requester has as many open tickets as `max_open_tickets` allows (loop control). */
export class OpenTicketLimitError extends TicketValidationError {
  readonly email: string;
  readonly limit: number;
  constructor(email: string, limit: number) {
    super([{ key: "err", message: "You've reached the maximum open tickets allowed." }]);
    this.name = "OpenTicketLimitError";
    this.email = email;
    this.limit = limit;
  }

  /** The warning Ticket::create logs for it. */
  get logEntry(): SystemLogWarning {
    return {
      title: `Ticket denied - ${this.email}`,
      message: `Max open tickets (${this.limit}) reached for ${this.email}`,
    };
  }
}

/** The ticket (or another referenced object) does not exist. */
export class NotFoundError extends Error {
  readonly entity: string;
  readonly id: number;
  constructor(entity: string, id: number) {
    super(`${entity} ${id} not found`);
    this.name = "NotFoundError";
    this.entity = entity;
    this.id = id;
  }
}

/**
 * An action osTicket refuses on the ticket's current state (e.g. "Ticket already in the department",
 * "This ticket cannot be closed"). `key` is osTicket's error key.
 */
export class TicketActionError extends Error {
  readonly key: string;
  constructor(key: string, message: string) {
    super(message);
    this.name = "TicketActionError";
    this.key = key;
  }
}
