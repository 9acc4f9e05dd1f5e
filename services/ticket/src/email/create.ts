import type { EntityManager } from "@mikro-orm/mysql";
import { withUseCase } from "../domain/context.ts";
import { type Ports, SYSTEM_ACTOR } from "../domain/ports.ts";
import type { HelpdeskConfig } from "../domain/reference/config.ts";
import { int } from "../domain/rows.ts";
import { replaceSearchRows } from "../domain/search.ts";
import { sqlFor } from "../domain/sql.ts";
import { createTicket } from "../domain/ticket/create-ticket.ts";
import {
  type AttachmentFailure,
  mailFileLinks,
  rewriteInlineImages,
  type StoredMailFile,
} from "./attachments.ts";
import type { MailBody } from "./body.ts";
import type { Addressing, SystemMailboxes } from "./mailboxes.ts";
import type { ParsedEmail } from "./parse.ts";
import { addRecipientCollaborators, referToMailboxDepartments, type TicketSnapshot } from "./participants.ts";
import { recordMessageHeaders, replyFlag } from "./records.ts";

export interface CreatedFromEmail {
  readonly kind: "created";
  readonly ticketId: number;
  readonly number: string;
  readonly threadId: number;
  /** The first message. */
  readonly entryId: number;
  readonly userId: number;
  readonly userCreated: boolean;
  readonly attachmentFailures: readonly AttachmentFailure[];
}

export interface CreateInput {
  readonly mail: ParsedEmail;
  readonly addressing: Addressing;
  readonly mailboxes: SystemMailboxes;
  readonly body: MailBody;
  readonly files: readonly StoredMailFile[];
  readonly failures: readonly AttachmentFailure[];
  readonly config: HelpdeskConfig;
  /** The caller's IP (stored on the ticket and its first message). */
  readonly ip: string;
  /** Mailbox the mail was fetched from, used when no system address is among its addressees. */
  readonly fallbackEmailId: number;
}

/**
 * A new ticket from a mail (TicketApiController::createTicket with origin Email, FACTS §2.9): the write core's
 * createTicket with source Email, the sender as requester (named from the From display name), the subject
 * (`[No Subject]` when empty), the mailbox it reached (else the fetching mailbox, else the default one);
 * then what the e-mail channel adds to the first message: REPLY_* flag, recipients, the e-mail headers row,
 * its files, and the other addressees as collaborators.
 */
export async function createFromEmail(
  em: EntityManager,
  input: CreateInput,
  ports: Ports,
): Promise<CreatedFromEmail> {
  const tx = sqlFor(em);
  const { mail, config } = input;
  const priorityId = config.flag("use_email_priority")
    ? await priorityForUrgency(em, requestedUrgency(mail))
    : 0;
  const { body, inline } = rewriteInlineImages(input.body.text, input.files);
  // Loop control (Ticket::create): no auto-response to bounces, auto-replies or the help desk's own
  // mailboxes, no staff alert for bounces.
  const fromMailbox = mail.from ? input.mailboxes.find(mail.from.address) !== undefined : false;
  const created = await createTicket(
    tx,
    {
      requester: { email: mail.from?.address, name: mail.from?.name || mail.from?.address },
      subject: mail.subject || "[No Subject]",
      message: body,
      attachments: mailFileLinks(input.files, inline),
      messageFormat: input.body.format,
      source: "Email",
      origin: "email",
      ipAddress: input.ip,
      // No mailbox at all is osTicket's "Unknown system email" (a required field left empty).
      emailId:
        input.addressing.emailId || input.fallbackEmailId || config.int("default_email_id") || undefined,
      ...(priorityId ? { priorityId } : {}),
      // What the ticket filters see of the mail: its Reply-To and its other To/Cc addressees.
      ...(mail.replyTo ? { replyTo: { email: mail.replyTo.address, name: mail.replyTo.name } } : {}),
      recipients: input.addressing.recipients.map((r) => ({ name: r.name, email: r.email })),
      alert: !mail.isBounce,
      autorespond: !(mail.isBounce || mail.isAutoReply || fromMailbox),
      legacy: true,
      fileImportErrors: input.failures,
    },
    SYSTEM_ACTOR,
    ports,
  );

  await withUseCase(tx, SYSTEM_ACTOR, ports, async (ctx) => {
    await ctx.tx.run("UPDATE ost_thread_entry SET flags = flags | ? WHERE id = ?", [
      replyFlag(input.addressing),
      created.messageEntryId,
    ]);
    await recordMessageHeaders(ctx.tx, created.messageEntryId, mail, input.addressing);
    const snapshot: TicketSnapshot = {
      ticketId: created.ticketId,
      threadId: created.threadId,
      ownerId: created.userId,
      staffId: created.staffId,
      teamId: created.teamId,
      deptId: created.deptId,
      topicId: created.topicId,
    };
    const searchRows = await addRecipientCollaborators(ctx, snapshot, input.addressing, created.userId);
    await replaceSearchRows(ctx.tx, searchRows);
    await referToMailboxDepartments(ctx, snapshot, input.addressing.systemEmailIds, input.mailboxes);
  });

  return {
    kind: "created",
    ticketId: created.ticketId,
    number: created.number,
    threadId: created.threadId,
    entryId: created.messageEntryId,
    userId: created.userId,
    userCreated: created.userCreated,
    attachmentFailures: input.failures,
  };
}

/**
 * Mail_Parse::getPriority's urgency: 4 − a TNEF part's importance (2 high, 3 normal, 4 low), else one more
 * than the headers' level; 0 asks for nothing.
 */
function requestedUrgency(mail: ParsedEmail): number {
  if (mail.tnefImportance !== undefined) return 4 - mail.tnefImportance;
  return mail.priorityUrgency ? mail.priorityUrgency + 1 : 0;
}

/** The first priority with that urgency (none for 0 or an urgency no priority has). */
async function priorityForUrgency(em: EntityManager, urgency: number): Promise<number> {
  if (!urgency) return 0;
  const row = await sqlFor(em).first(
    "SELECT priority_id FROM ost_ticket_priority WHERE priority_urgency = ? LIMIT 1",
    [urgency],
  );
  return row ? int(row, "priority_id") : 0;
}
