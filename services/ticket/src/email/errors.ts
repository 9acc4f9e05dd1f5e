import type { TicketDeniedError } from "../domain/errors.ts";

/**
 * The input is a message osTicket cannot read at all: its MIME decoder fails and not a single header can be
 * read from it (EmailDataParser::onParseError without header info), so the legacy API answers 400 with
 * `legacyText()`. Nothing was written. `reason` is ours, for logs; osTicket's text only quotes the PEAR error.
 */
export class EmailParseError extends Error {
  readonly reason: string;
  readonly #legacyText: string;
  constructor(reason: string, legacyText: string) {
    super(`e-mail cannot be parsed: ${reason}`);
    this.name = "EmailParseError";
    this.reason = reason;
    this.#legacyText = legacyText;
  }

  /** The body osTicket's legacy API answers with (e.g. `Email parse failed: []`). */
  legacyText(): string {
    return this.#legacyText;
  }
}

/**
 * A new ticket from this mail was refused (ban list, or unregistered senders not accepted). As osTicket
 * does, the Message-ID is recorded (an ost_thread_entry_email row with thread_entry_id 0, see
 * recordDeniedMessage): committed when ingestEmail ran the transaction itself, else written in the caller's
 * transaction before the throw (kept only if the caller commits). Nothing else is written.
 */
export class EmailDeniedError extends Error {
  readonly email: string;
  readonly mid: string;
  override readonly cause: TicketDeniedError;
  constructor(cause: TicketDeniedError, mid: string) {
    super(`Ticket denied: ${cause.email}`);
    this.name = "EmailDeniedError";
    this.email = cause.email;
    this.mid = mid;
    this.cause = cause;
  }
}
