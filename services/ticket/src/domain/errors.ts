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
  constructor(email: string, filter?: { readonly id: number; readonly name: string }) {
    super([{ key: "err", message: "This help desk is for use by authorized users only" }], 403);
    this.name = "TicketDeniedError";
    this.email = email;
    this.filter = filter;
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
