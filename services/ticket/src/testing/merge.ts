/**
 * Merges and links tickets by writing the rows osTicket 1.18.1's own Ticket::merge writes (through
 * Ticket::manageMerge, Thread::setExtra and ThreadEntry::setExtra, include/class.ticket.php and
 * include/class.thread.php), so tests read and act on merges as osTicket's staff panel leaves them.
 */
import type { TicketHarness } from "./harness.ts";

/** The staff panel's merge choices: combine (1) or separate (0) threads, or a link (2). */
export type MergeChoice = "combine" | "separate" | "link";

const FLAG = { combine: 0x01, separate: 0x02, link: 0x08 } as const;
const PARENT = 0x10;
const ALL_RELATION_FLAGS = 0x1b;
const ENTRY_HIDDEN = 0x004;
const ENTRY_CHILD = 0x400;

interface TicketRow {
  readonly ticket_id: number;
  readonly number: string;
  readonly user_id: number;
  readonly dept_id: number;
  readonly thread_id: number;
}

async function ticketRow(h: TicketHarness, ticketId: number): Promise<TicketRow> {
  const [row] = await h.query(
    "SELECT t.ticket_id, t.number, t.user_id, t.dept_id, th.id AS thread_id FROM ost_ticket t" +
      " JOIN ost_thread th ON th.object_id = t.ticket_id AND th.object_type = 'T' WHERE t.ticket_id = ?",
    [ticketId],
  );
  if (!row) throw new Error(`ticket ${ticketId} has no ticket thread`);
  return row as unknown as TicketRow;
}

/** Ticket::logEvent as the admin agent (staff 1, "ostadmin") logs it from the staff panel. */
async function logEvent(
  h: TicketHarness,
  ticket: TicketRow,
  threadId: number,
  event: string,
  data: unknown,
): Promise<void> {
  await h.exec(
    "INSERT INTO ost_thread_event (thread_id, thread_type, event_id, staff_id, team_id, dept_id, topic_id, data," +
      " username, uid, uid_type, annulled, timestamp)" +
      " SELECT ?, 'T', e.id, 0, 0, ?, 0, ?, 'ostadmin', 1, 'S', 0, NOW() FROM ost_event e WHERE e.name = ?",
    [threadId, ticket.dept_id, data === null ? null : JSON.stringify(data), event],
  );
}

/**
 * Ticket::merge with `tickets` = [parent, ...children] as the merge dialog lists them (all in one department,
 * so no referral): for each child the `merged` (or `linked`) events on both tickets, ticket_pid, sort and
 * the merge flags (the parent's with PARENT). For a merge (not a link) also: the child's owner as a
 * collaborator of the parent's thread, every visible entry of the child's thread moved into the parent's
 * (flag CHILD and an ost_thread_entry_merge row naming the child's thread), the child's thread turned into a
 * child thread ('C', extra naming the parent and the child's number), and the child set to `childStatusId`
 * (osTicket's forced close).
 */
export async function mergeAsOsTicket(
  h: TicketHarness,
  parentId: number,
  childIds: readonly number[],
  choice: MergeChoice,
  childStatusId = 3,
): Promise<void> {
  const parent = await ticketRow(h, parentId);
  const flag = FLAG[choice];
  const event = choice === "link" ? "linked" : "merged";
  // manageMerge: a ticket not yet merged or linked gets its place in the list as its sort.
  await h.exec("UPDATE ost_ticket SET sort = 0, updated = NOW() WHERE ticket_id = ? AND sort <> 0", [
    parentId,
  ]);
  for (const [i, childId] of childIds.entries()) {
    const child = await ticketRow(h, childId);
    await h.exec("UPDATE ost_ticket SET sort = ?, updated = NOW() WHERE ticket_id = ?", [i + 1, childId]);
    await logEvent(h, parent, parent.thread_id, event, { ticket: `Ticket #${child.number}`, id: childId });
    await logEvent(h, child, child.thread_id, event, { ticket: `Ticket #${parent.number}`, id: parentId });
    await h.exec("UPDATE ost_ticket SET ticket_pid = ?, updated = NOW() WHERE ticket_id = ?", [
      parentId,
      childId,
    ]);
    await h.exec(
      `UPDATE ost_ticket SET flags = (flags & ~${ALL_RELATION_FLAGS}) | ${flag | PARENT}, updated = NOW() WHERE ticket_id = ?`,
      [parentId],
    );
    await h.exec(
      `UPDATE ost_ticket SET flags = (flags & ~${ALL_RELATION_FLAGS}) | ${flag}, updated = NOW() WHERE ticket_id = ?`,
      [childId],
    );
  }
  if (choice === "link") return;
  for (const childId of childIds) {
    const child = await ticketRow(h, childId);
    if (child.user_id !== parent.user_id)
      await h.exec(
        "INSERT INTO ost_thread_collaborator (flags, thread_id, user_id, role, created, updated)" +
          " SELECT 3, ?, ?, 'M', NOW(), NOW() FROM DUAL WHERE NOT EXISTS" +
          " (SELECT 1 FROM ost_thread_collaborator WHERE thread_id = ? AND user_id = ?)",
        [parent.thread_id, child.user_id, parent.thread_id, child.user_id],
      );
    // Thread::setExtra → ThreadEntry::setExtra over Thread::getEntries (hidden entries stay behind).
    const moved = await h.query(
      `SELECT id FROM ost_thread_entry WHERE thread_id = ? AND (flags & ${ENTRY_HIDDEN}) = 0 ORDER BY created, id`,
      [child.thread_id],
    );
    for (const entry of moved) {
      await h.exec("INSERT INTO ost_thread_entry_merge (thread_entry_id, data) VALUES (?, ?)", [
        entry.id,
        JSON.stringify({ thread: child.thread_id }),
      ]);
      await h.exec(`UPDATE ost_thread_entry SET flags = flags | ${ENTRY_CHILD}, thread_id = ? WHERE id = ?`, [
        parent.thread_id,
        entry.id,
      ]);
    }
    await h.exec("UPDATE ost_thread SET object_type = 'C', extra = ? WHERE id = ?", [
      JSON.stringify({ ticket_id: parentId, number: child.number }),
      child.thread_id,
    ]);
    // Ticket::setStatus(childStatusId, force close): the status, the close time and the `closed` event.
    const [status] = await h.query("SELECT id, name FROM ost_ticket_status WHERE id = ?", [childStatusId]);
    await h.exec("UPDATE ost_ticket SET status_id = ?, closed = NOW(), updated = NOW() WHERE ticket_id = ?", [
      childStatusId,
      childId,
    ]);
    await logEvent(h, child, child.thread_id, "closed", { status: [childStatusId, status?.name ?? ""] });
  }
}
