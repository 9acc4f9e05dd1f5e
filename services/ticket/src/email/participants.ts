import type { UseCaseContext } from "../domain/context.ts";
import { int, str } from "../domain/rows.ts";
import type { SearchRow } from "../domain/search.ts";
import type { EventAuthor, NewThreadEvent } from "../domain/thread/events.ts";
import { logEvents } from "../domain/thread/events.ts";
import { isEmailAddress } from "../domain/users/email.ts";
import {
  createUser,
  findUserByEmail,
  normalizeUserName,
  organizationForEmail,
} from "../domain/users/requester.ts";
import type { Addressing, SystemMailboxes } from "./mailboxes.ts";

/** The assignment snapshot thread events carry (ThreadEvent::forTicket). */
export interface TicketSnapshot {
  readonly ticketId: number;
  readonly threadId: number;
  readonly ownerId: number;
  readonly staffId: number;
  readonly teamId: number;
  readonly deptId: number;
  readonly topicId: number;
}

/** An event author osTicket records when no agent or portal user is signed in: SYSTEM, optionally a user id. */
export function systemAuthor(userId = 0): EventAuthor {
  return userId
    ? { uid: userId, uidType: "U", username: "SYSTEM" }
    : { uid: null, uidType: "S", username: "SYSTEM" };
}

export async function logTicketEvent(
  ctx: UseCaseContext,
  ticket: TicketSnapshot,
  state: string,
  data: Readonly<Record<string, unknown>>,
  author: EventAuthor,
): Promise<void> {
  const event: NewThreadEvent = {
    threadId: ticket.threadId,
    state,
    data,
    staffId: ticket.staffId,
    teamId: ticket.teamId,
    deptId: ticket.deptId,
    topicId: ticket.topicId,
    author,
  };
  await logEvents(ctx.tx, ctx.lookups, [event], ctx.threadEventLogged);
}

export async function isCollaborator(
  ctx: UseCaseContext,
  threadId: number,
  userId: number,
): Promise<boolean> {
  const row = await ctx.tx.first(
    "SELECT id FROM ost_thread_collaborator WHERE thread_id = ? AND user_id = ? LIMIT 1",
    [threadId, userId],
  );
  return row !== undefined;
}

/**
 * Ticket::postMessage's "add e-mail recipients as collaborators" (config add_email_collabs, only when the
 * mail reached a system mailbox): every other To/Cc addressee becomes a user (created if new) and an
 * active CC collaborator, except the owner and existing collaborators; one `collab` event lists them,
 * attributed to the message's author. Returns the search rows of users it created.
 */
export async function addRecipientCollaborators(
  ctx: UseCaseContext,
  ticket: TicketSnapshot,
  mail: Addressing,
  messageUserId: number,
): Promise<SearchRow[]> {
  const searchRows: SearchRow[] = [];
  if (!mail.recipients.length || !mail.emailId || !ctx.config.flag("add_email_collabs")) return searchRows;
  const added = new Map<string, { name: string; src: string }>();
  for (const recipient of mail.recipients) {
    if (recipient.source.toLowerCase() === "delivered-to") continue;
    let user = await findUserByEmail(ctx.tx, recipient.email);
    if (!user && isEmailAddress(recipient.email)) {
      const contactForm = await ctx.metadata.byType(ctx.tx, "U");
      const created = await createUser(ctx.tx, contactForm, {
        email: recipient.email,
        name: normalizeUserName(recipient.name || undefined, recipient.email),
        orgId: await organizationForEmail(ctx.tx, recipient.email),
        answers: new Map(),
      });
      searchRows.push(created.searchRow);
      user = created;
    }
    if (!user || user.id === ticket.ownerId) continue;
    if (await isCollaborator(ctx, ticket.threadId, user.id)) continue;
    // Agents' addresses join inactive when the help desk disables agent collaborators.
    const agent =
      ctx.config.flag("disable_agent_collabs") &&
      (await ctx.tx.first("SELECT staff_id FROM ost_staff WHERE email = ? LIMIT 1", [recipient.email])) !==
        undefined;
    await ctx.tx.run(
      "INSERT INTO ost_thread_collaborator (flags, thread_id, user_id, role, created, updated) VALUES (?, ?, ?, 'M', NOW(), NOW())",
      [agent ? 2 : 3, ticket.threadId, user.id],
    );
    added.set(String(user.id), { name: user.name, src: recipient.source });
  }
  if (added.size) {
    await logTicketEvent(
      ctx,
      ticket,
      "collab",
      { add: Object.fromEntries(added) },
      systemAuthor(messageUserId),
    );
  }
  return searchRows;
}

/**
 * Ticket::systemReferral: a mail that also reached a system mailbox of another department refers the
 * ticket to that department (once), unless the ticket was transferred away from that mailbox's department.
 */
export async function referToMailboxDepartments(
  ctx: UseCaseContext,
  ticket: TicketSnapshot,
  systemEmailIds: readonly number[],
  mailboxes: SystemMailboxes,
): Promise<void> {
  if (!systemEmailIds.length) return;
  const row = await ctx.tx.first("SELECT email_id FROM ost_ticket WHERE ticket_id = ?", [ticket.ticketId]);
  const ticketEmailId = row ? int(row, "email_id") : 0;
  const transferred = await ctx.tx.all(
    "SELECT d.email_id FROM ost_thread_event t JOIN ost_event e ON e.id = t.event_id AND e.name = 'transferred'" +
      " LEFT JOIN ost_department d ON d.id = t.dept_id WHERE t.thread_id = ?",
    [ticket.threadId],
  );
  const defaultEmailId = ctx.config.int("default_email_id");
  const transferredEmails = new Set(transferred.map((r) => int(r, "email_id") || defaultEmailId));
  for (const id of systemEmailIds) {
    if (id === ticketEmailId || (transferredEmails.size && transferredEmails.has(id))) continue;
    const mailbox = mailboxes.byId(id);
    if (!mailbox || mailbox.deptId === ticket.deptId) continue;
    const dept = await ctx.lookups.department(mailbox.deptId);
    if (!dept) continue;
    const referred = await ctx.tx.first(
      "SELECT id FROM ost_thread_referral WHERE thread_id = ? AND object_id = ? AND object_type = 'D' LIMIT 1",
      [ticket.threadId, dept.id],
    );
    if (referred) continue;
    await ctx.tx.run(
      "INSERT INTO ost_thread_referral (thread_id, object_id, object_type, created) VALUES (?, ?, 'D', NOW())",
      [ticket.threadId, dept.id],
    );
    await logTicketEvent(ctx, ticket, "referred", { dept: dept.id }, systemAuthor());
  }
}

/** The owner's default address (Ticket::getEmail). */
export async function ownerEmail(ctx: UseCaseContext, ownerId: number): Promise<string> {
  const row = await ctx.tx.first(
    "SELECT e.address FROM ost_user u JOIN ost_user_email e ON e.id = u.default_email_id WHERE u.id = ?",
    [ownerId],
  );
  return row ? str(row, "address") : "";
}
