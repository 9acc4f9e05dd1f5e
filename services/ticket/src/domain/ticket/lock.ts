/**
 * osTicket's ticket locks (ost_lock, named by ost_ticket.lock_id): the staff panel takes one for an agent
 * who opens a ticket's reply or note form, and refuses another agent's reply or note while it is live
 * (scp/tickets.php, `reply` and `postnote`). ostmesh has no form to hold open, so it takes, renews and
 * releases none; it only honours the ones the panel holds.
 */
import { TicketActionError } from "../errors.ts";
import type { HelpdeskConfig } from "../reference/config.ts";
import { int, isNumeric } from "../rows.ts";
import type { BatchRead } from "../sql.ts";

/** A live lock on a ticket: the agent holding it. */
export interface TicketLock {
  readonly lockId: number;
  readonly staffId: number;
}

/**
 * The ticket's live lock, if any, for the round trip that locks the ticket's row (after it: the ticket's
 * row is locked first). Live is Lock::isExpired's negation: the database's clock not past `expire`. A
 * shared lock reads the latest rows, as the ticket's own read does, and keeps the panel from renewing or
 * releasing the lock until the action commits.
 */
export function ticketLockRead(ticketId: number): BatchRead<TicketLock | undefined> {
  return {
    statements: [
      {
        sql:
          "SELECT l.lock_id, l.staff_id FROM ost_ticket t JOIN ost_lock l ON l.lock_id = t.lock_id" +
          " WHERE t.ticket_id = ? AND l.expire >= NOW() LOCK IN SHARE MODE",
        params: [ticketId],
      },
    ],
    read: ([rows = []]) => {
      const row = rows[0];
      return row ? { lockId: int(row, "lock_id"), staffId: int(row, "staff_id") } : undefined;
    },
  };
}

/**
 * Config::isTicketLockEnabled: a lock mode other than 0 ("Disabled"; PHP 8's `!=` with a number, so a
 * non-numeric mode counts as on) and a lock time (`autolock_minutes`, PHP-truthy).
 */
export function ticketLocksEnabled(config: HelpdeskConfig): boolean {
  const mode = config.get("ticket_lock");
  const disabled = mode === null || (isNumeric(mode) && Number(mode) === 0);
  return !disabled && config.flag("autolock_minutes");
}

/**
 * The staff panel's refusal of an agent's reply or note on a ticket another agent holds a live lock on.
 * An expired lock is none; the agent's own lock lets them through (the panel's lock code, which proves the
 * form was opened under that lock, has no counterpart here).
 */
export function refuseLockedByAnother(
  config: HelpdeskConfig,
  lock: TicketLock | undefined,
  staffId: number,
): void {
  if (!lock || lock.staffId === staffId || !ticketLocksEnabled(config)) return;
  throw new TicketActionError("err", "Action Denied. Ticket is locked by someone else!");
}
