/**
 * The warning osTicket's Ticket::create writes to its system log when it refuses a ticket: the ban list, a
 * ticket filter's reject action or an unregistered sender ("Ticket denied"), and the open-ticket limit
 * ("Ticket denied - <email>"). It is written after the refused call's transaction rolled back, in a
 * statement of its own, so that it stays while nothing of the ticket does.
 */
import {
  OpenTicketLimitError,
  sanitizeLogText,
  sqlFor,
  TicketDeniedError,
  writeSystemLog,
} from "../domain/index.ts";
import { EmailDeniedError } from "../email/errors.ts";
import type { Runtime } from "../runtime.ts";

/** Logs `error`'s refusal warning if it is one (a failure to log is the service's log line, not the call's). */
export async function logRefusal(rt: Runtime, error: unknown, ipAddress: string): Promise<void> {
  const refusal = error instanceof EmailDeniedError ? error.cause : error;
  if (!(refusal instanceof TicketDeniedError || refusal instanceof OpenTicketLimitError)) return;
  const { title, message } = refusal.logEntry;
  try {
    await writeSystemLog(sqlFor(rt.em()), [
      { type: "Warning", title: sanitizeLogText(title), message: sanitizeLogText(message), ipAddress },
    ]);
  } catch (failure) {
    rt.deps.logger?.warn({ err: failure }, "could not write the refusal's ost_syslog row");
  }
}
