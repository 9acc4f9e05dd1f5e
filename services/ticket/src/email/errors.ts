import type { TicketDeniedError } from "../domain/errors.ts";

/**
 * The input is not a mail message osTicket could read (empty, no header section, fewer than two header
 * fields, or MIME the parser rejects). Nothing was written. The legacy API answers 400 with `legacyText`.
 */
export class EmailParseError extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(`Email parse failed: [${reason}]`);
    this.name = "EmailParseError";
    this.reason = reason;
  }

  /** The body osTicket's legacy API answers with (`Email parse failed: [...]`). */
  legacyText(): string {
    return this.message;
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
