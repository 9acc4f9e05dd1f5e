import type { EntityManager } from "@mikro-orm/mysql";
import { cleanBodyContent, storedBody, truncate } from "@ostmesh/kit/osticket/html/format.ts";
import { type UseCaseContext, withUseCaseReading } from "../domain/context.ts";
import { type Ports, SYSTEM_ACTOR, type TicketDomainEvent } from "../domain/ports.ts";
import { staffDisplayName } from "../domain/reference/lookups.ts";
import { int } from "../domain/rows.ts";
import { sqlFor } from "../domain/sql.ts";
import { EntryFlag, insertFileImportErrorNote, insertThreadEntry } from "../domain/thread/entries.ts";
import { NOW, TicketChange } from "../domain/ticket/change.ts";
import { isMergedChild } from "../domain/ticket/merge.ts";
import { ticketForUpdateRead, ticketStateOf } from "../domain/ticket/state.ts";
import { applyStatus, isReopenable, reopenStatusFor } from "../domain/ticket/status.ts";
import { findUserById } from "../domain/users/requester.ts";
import {
  type AttachmentFailure,
  mailFileLinks,
  rewriteInlineImages,
  type StoredMailFile,
} from "./attachments.ts";
import { type MailBody, withReceivedFromBanner } from "./body.ts";
import type { Addressing, SystemMailboxes } from "./mailboxes.ts";
import type { ParsedEmail } from "./parse.ts";
import {
  addRecipientCollaborators,
  isCollaborator,
  logTicketEvent,
  ownerEmail,
  referToMailboxDepartments,
  systemAuthor,
  type TicketSnapshot,
} from "./participants.ts";
import { recordMessageHeaders, replyFlag } from "./records.ts";
import type { LoopbackSender, MatchedEntry } from "./threading.ts";

/** The ticket event a threaded e-mail reply emits (ThreadEntryAdded with via_email on the bus). */
export type EmailReplyEvent = Extract<TicketDomainEvent, { type: "ticket.message.posted" }> & {
  readonly viaEmail: true;
  readonly threadId: number;
  readonly pid: number;
  readonly mid: string;
};

export interface ThreadedReply {
  readonly kind: "threaded";
  readonly ticketId: number;
  readonly number: string;
  readonly threadId: number;
  readonly entryId: number;
  /** Author of the entry, 0 for a sender the ticket does not know ("Received From" banner). */
  readonly userId: number;
  readonly reopened: boolean;
  readonly attachmentFailures: readonly AttachmentFailure[];
}

export interface ReplyInput {
  readonly mail: ParsedEmail;
  readonly addressing: Addressing;
  readonly mailboxes: SystemMailboxes;
  readonly body: MailBody;
  readonly files: readonly StoredMailFile[];
  readonly failures: readonly AttachmentFailure[];
  /** The entry the mail answers (pid of the new entry). */
  readonly entry: MatchedEntry;
  /** The sender as the `[#number]` subject match identified them (owner or collaborator), 0 otherwise. */
  readonly subjectUserId: number;
  /** Who an osTicket-made Message-ID says the mail went to (loopback threading), if that is how it matched. */
  readonly loopback?: LoopbackSender;
  /** The caller's IP: agents' notes by e-mail record it (messages store ''). */
  readonly ip: string;
}

/**
 * Thread::postEmail + Ticket::postMessage for a mail threaded onto an existing ticket (FACTS §2.9): the
 * sender decides the author (a known user who is not the owner is made a collaborator; the owner and
 * collaborators post as themselves; anyone else gets the "Received From" banner and no author), then one
 * `M` entry (pid = the matched entry, title NULL, ip '', REPLY_* flag, recipients, e-mail headers), the
 * thread's lastmessage, the ticket's lastupdate and isanswered = 0, a reopen when it was closed, and the
 * other addressees as collaborators. No event row is written for the message itself.
 *
 * Returns undefined when osTicket refuses to thread the mail (closed ticket that cannot be reopened, or a
 * mail sent from one of the help desk's own mailboxes): the caller opens a new ticket instead.
 */
export function postEmailReply(
  em: EntityManager,
  input: ReplyInput,
  ports: Ports,
): Promise<ThreadedReply | undefined> {
  const tx = sqlFor(em);
  const ticketId = input.entry.ticketId;
  return withUseCaseReading(tx, SYSTEM_ACTOR, ports, ticketForUpdateRead(ticketId), async (ctx, rows) => {
    const addressed = await ticketStateOf(rows, ctx.lookups, ticketId);
    const addressedChange = new TicketChange(ctx, addressed);
    // Only a mail known to come from an agent may still be added to a closed ticket that cannot reopen.
    const agentMail = (input.loopback?.staffId ?? 0) !== 0;
    if (!agentMail && addressed.state === "closed" && !(await isReopenable(addressedChange)))
      return undefined;

    const author = await resolveAuthor(ctx, input, addressed);
    if (author === "refuse") return undefined;
    const snapshotOf = (t: typeof addressed, c: TicketChange): TicketSnapshot => ({
      ticketId: t.id,
      threadId: t.threadId,
      ownerId: t.userId,
      staffId: c.view.staffId,
      teamId: c.view.teamId,
      deptId: c.view.deptId,
      topicId: c.view.topicId,
    });
    const from = input.mail.from;
    await referToMailboxDepartments(
      ctx,
      snapshotOf(addressed, addressedChange),
      input.addressing.systemEmailIds,
      input.mailboxes,
    );
    if (author?.type === "note") return postAgentNote(ctx, addressedChange, input, author.staffId);

    // A message on a merged child's thread goes to the parent (Ticket::postMessage), marked as the child's
    // (ThreadEntry::setExtra: flag CHILD and merge data naming the child's thread). Notes stay on the child.
    const childThreadId = isMergedChild(addressed) && rows.parent ? addressed.threadId : 0;
    const ticket = childThreadId
      ? await ticketStateOf(
          { ticket: rows.parent, status: undefined, parent: undefined },
          ctx.lookups,
          addressed.parentId,
        )
      : addressed;
    const change = childThreadId ? new TicketChange(ctx, ticket) : addressedChange;
    const snapshot = () => snapshotOf(ticket, change);

    let body = input.body;
    let userId = 0;
    let flags = 0;
    if (author) {
      userId = author.userId;
      flags = author.flags;
    } else {
      // Mail_Parse names a sender without a display name by the address itself.
      body = withReceivedFromBanner(body, from?.name || from?.address || "", from?.address ?? "");
    }

    // A known user who is not the owner joins the thread first (Thread::addCollaborator).
    if (userId && userId !== ticket.userId && !(await isCollaborator(ctx, ticket.threadId, userId))) {
      const user = await findUserById(ctx.tx, userId);
      await ctx.tx.run(
        "INSERT INTO ost_thread_collaborator (flags, thread_id, user_id, role, created, updated) VALUES (3, ?, ?, 'M', NOW(), NOW())",
        [ticket.threadId, userId],
      );
      await logTicketEvent(
        ctx,
        snapshot(),
        "collab",
        { add: { [userId]: { name: user?.name ?? "" } } },
        systemAuthor(),
      );
    }
    if (userId && (await isCollaborator(ctx, ticket.threadId, userId))) flags |= EntryFlag.COLLABORATOR;

    // osTicket logs attachment failures while it creates the entry, so their notes come first.
    for (const failure of input.failures) await insertFileImportErrorNote(ctx.tx, ticket.threadId, failure);
    const { body: rewritten, inline } = rewriteInlineImages(body.text, input.files);
    const content = cleanBodyContent(rewritten, body.format, {
      editorSpacing: false,
      policy: ctx.htmlPolicy,
    });
    const stored = storedBody(content);
    const entry = await insertThreadEntry(ctx.tx, {
      threadId: ticket.threadId,
      type: "M",
      pid: input.entry.entryId,
      staffId: 0,
      userId,
      poster: truncate(from?.name || from?.address || "", 128),
      source: "Email",
      title: null,
      body: stored,
      format: body.format,
      ipAddress: "",
      flags: flags | replyFlag(input.addressing) | (childThreadId ? EntryFlag.CHILD : 0),
      attachments: mailFileLinks(input.files, inline),
    });
    if (childThreadId)
      await ctx.tx.run("INSERT INTO ost_thread_entry_merge (thread_entry_id, data) VALUES (?, ?)", [
        entry.id,
        JSON.stringify({ thread: childThreadId }),
      ]);
    change.index(entry.searchRow);
    await recordMessageHeaders(ctx.tx, entry.id, input.mail, input.addressing);

    await ctx.tx.run("UPDATE ost_thread SET lastmessage = NOW() WHERE id = ?", [ticket.threadId]);
    for (const row of await addRecipientCollaborators(ctx, snapshot(), input.addressing, userId))
      change.index(row);

    // Ticket::onMessage: unanswered, touched, reopened unless the mail is a bounce or an auto-reply.
    change.setAnswered(false);
    change.set("lastupdate", NOW);
    let reopened = false;
    const automatic = input.mail.isBounce || input.mail.isAutoReply;
    if (!automatic && change.view.state === "closed" && (await isReopenable(change))) {
      const status = await reopenStatusFor(change);
      if (status) reopened = (await applyStatus(change, status)).reopened;
    }
    await change.finish();

    const event: EmailReplyEvent = {
      type: "ticket.message.posted",
      ticketId: ticket.id,
      number: ticket.number,
      actor: userId ? { kind: "user", userId } : SYSTEM_ACTOR,
      entryId: entry.id,
      userId,
      reopened,
      bounceOrAutoReply: automatic,
      viaEmail: true,
      threadId: ticket.threadId,
      pid: input.entry.entryId,
      mid: input.mail.mid,
    };
    await ctx.emit(event);
    return {
      kind: "threaded",
      ticketId: ticket.id,
      number: ticket.number,
      threadId: ticket.threadId,
      entryId: entry.id,
      userId,
      reopened,
      attachmentFailures: input.failures,
    };
  });
}

type Author =
  | { readonly type: "message"; readonly userId: number; readonly flags: number }
  | { readonly type: "note"; readonly staffId: number };

/**
 * Who posts the reply (Thread::postEmail). Undefined means nobody the ticket knows (banner, no author);
 * "refuse" a mail from the help desk's own mailbox. A known user who is neither the owner nor (sic) the
 * assignee's staff id counts as a collaborator; a loopback id addressed to an agent makes an internal note.
 */
async function resolveAuthor(
  ctx: UseCaseContext,
  input: ReplyInput,
  ticket: { readonly userId: number; readonly staffId: number; readonly threadId: number },
): Promise<Author | undefined | "refuse"> {
  const address = input.mail.from?.address ?? "";
  let userId = input.subjectUserId || (input.loopback?.userId ?? 0);
  let userClass = input.loopback?.userClass ?? "";
  if (address) {
    const staff = await ctx.tx.first("SELECT staff_id FROM ost_staff WHERE email = ? LIMIT 1", [address]);
    if (!staff) {
      const user = await ctx.tx.first("SELECT user_id FROM ost_user_email WHERE address = ? LIMIT 1", [
        address,
      ]);
      if (user) {
        userId = int(user, "user_id");
        if (userId !== ticket.userId && userId !== ticket.staffId) userClass = "C";
      }
    }
  }
  switch (userClass) {
    case "C":
      return { type: "message", userId, flags: EntryFlag.COLLABORATOR };
    case "U":
      return { type: "message", userId, flags: 0 };
    case "A":
    case "S":
      return { type: "note", staffId: input.loopback?.staffId ?? 0 };
  }
  const owner = await ownerEmail(ctx, ticket.userId);
  if (owner && address.toLowerCase() === owner.toLowerCase())
    return { type: "message", userId: ticket.userId, flags: 0 };
  const collaborator = await ctx.tx.first(
    "SELECT c.user_id FROM ost_thread_collaborator c JOIN ost_user_email e ON e.user_id = c.user_id" +
      " WHERE c.thread_id = ? AND e.address = ? ORDER BY c.id LIMIT 1",
    [ticket.threadId, address],
  );
  if (collaborator)
    return { type: "message", userId: userId || int(collaborator, "user_id"), flags: EntryFlag.COLLABORATOR };
  if (address && input.mailboxes.find(address)) return "refuse";
  return undefined;
}

/** The event an agent's note by e-mail emits (ThreadEntryAdded with via_email on the bus). */
export type EmailNoteEvent = Extract<TicketDomainEvent, { type: "ticket.note.posted" }> & {
  readonly viaEmail: true;
  readonly threadId: number;
  readonly pid: number;
  readonly mid: string;
};

/**
 * Ticket::postNote for a mail an agent sent in reply to one of osTicket's own mails: an `N` entry by the
 * agent (poster = their name, title NULL, the caller's IP, REPLY_* flag, recipients, e-mail headers) under
 * the matched entry. The ticket itself is not touched.
 */
async function postAgentNote(
  ctx: UseCaseContext,
  change: TicketChange,
  input: ReplyInput,
  staffId: number,
): Promise<ThreadedReply> {
  const { ticket } = change;
  const staff = staffId ? await ctx.lookups.staff(staffId) : undefined;
  for (const failure of input.failures) await insertFileImportErrorNote(ctx.tx, ticket.threadId, failure);
  const { body: rewritten, inline } = rewriteInlineImages(input.body.text, input.files);
  const stored = storedBody(
    cleanBodyContent(rewritten, input.body.format, { editorSpacing: false, policy: ctx.htmlPolicy }),
  );
  const entry = await insertThreadEntry(ctx.tx, {
    threadId: ticket.threadId,
    type: "N",
    pid: input.entry.entryId,
    staffId: staff?.id ?? 0,
    userId: 0,
    poster: truncate(
      staff
        ? staffDisplayName(staff, ctx.config.agentNameFormat)
        : input.mail.from?.name || input.mail.from?.address || "",
      128,
    ),
    source: "Email",
    title: null,
    body: stored,
    format: input.body.format,
    ipAddress: truncate(input.ip, 64),
    flags: replyFlag(input.addressing),
    attachments: mailFileLinks(input.files, inline),
  });
  change.index(entry.searchRow);
  await recordMessageHeaders(ctx.tx, entry.id, input.mail, input.addressing);
  await change.finish();
  const event: EmailNoteEvent = {
    type: "ticket.note.posted",
    ticketId: ticket.id,
    number: ticket.number,
    actor: staff ? { kind: "staff", staffId: staff.id } : SYSTEM_ACTOR,
    entryId: entry.id,
    staffId: staff?.id ?? 0,
    title: "",
    viaEmail: true,
    threadId: ticket.threadId,
    pid: input.entry.entryId,
    mid: input.mail.mid,
  };
  await ctx.emit(event);
  return {
    kind: "threaded",
    ticketId: ticket.id,
    number: ticket.number,
    threadId: ticket.threadId,
    entryId: entry.id,
    userId: 0,
    reopened: false,
    attachmentFailures: input.failures,
  };
}
