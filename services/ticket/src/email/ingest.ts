import { createHash } from "node:crypto";
import type { EntityManager } from "@mikro-orm/mysql";
import { withUseCase } from "../domain/context.ts";
import { TicketDeniedError } from "../domain/errors.ts";
import { type Ports, SYSTEM_ACTOR } from "../domain/ports.ts";
import { loadConfig } from "../domain/reference/config.ts";
import { int, str } from "../domain/rows.ts";
import { type Sql, sqlFor } from "../domain/sql.ts";
import { type AttachmentFailure, storeMailFiles } from "./attachments.ts";
import { mailBody } from "./body.ts";
import { type CreatedFromEmail, createFromEmail } from "./create.ts";
import { EmailDeniedError } from "./errors.ts";
import { decodeMessageId } from "./loopback.ts";
import { addressing, SystemMailboxes } from "./mailboxes.ts";
import { type ParsedEmail, parseEmail } from "./parse.ts";
import { referToMailboxDepartments } from "./participants.ts";
import { recordDeniedMessage } from "./records.ts";
import { postEmailReply, type ThreadedReply } from "./reply.ts";
import { findLoopbackThread, findThread } from "./threading.ts";

export interface IngestEmailInput {
  /** The whole message as received (RFC 822 headers and body). */
  readonly raw: Uint8Array;
  /** IP address of the client that delivered it (stored on new tickets; replies store ''). */
  readonly ip: string;
  /** System mailbox the message was fetched from; used when none of its addressees is one. 0 = none. */
  readonly emailId?: number;
}

/** A message whose Message-ID was already stored: nothing was written. */
export interface Redelivered {
  readonly kind: "redelivered";
  readonly ticketId: number;
  readonly number: string;
  /** The entry that came with the first delivery (or that a looped mail refers to). */
  readonly matchedEntryId: number;
  readonly entryId?: undefined;
  /** The mail was sent by this help desk itself and came back (a mail loop); nothing was written. */
  readonly loop?: true;
}

export type IngestEmailResult = CreatedFromEmail | ThreadedReply | Redelivered;

export interface IngestEmailOptions {
  /**
   * osTicket's SECRET_SALT (include/ost-config.php). With it, Message-IDs that osTicket's PHP mailer put on
   * its mails are trusted: replies to them thread onto the exact entry (an agent's reply becomes an internal
   * note), and a mail carrying such an id itself is recognised as a mail loop.
   */
  readonly secretSalt?: string;
  /**
   * Told when osTicket's decoder could not decode the message but its headers were read, so it goes on as
   * a mail whose message is osTicket's error text with the raw mail attached (see ParsedEmail.parseFailure).
   */
  readonly onParseFailure?: (failure: NonNullable<ParsedEmail["parseFailure"]>) => void;
  /** Told Mail_Parse's notes on the mail (a winmail.dat that could not be decoded stays an attachment). */
  readonly onNotes?: (notes: readonly string[]) => void;
  /**
   * Whether a denied mail's Message-ID is kept on record (default true), as osTicket's mail fetcher and
   * CLI pipe keep it (api.tickets.php processEmail). false for the legacy HTTP route: there osTicket's
   * error response exits the request (TicketApiController::onError) before the Message-ID is recorded.
   */
  readonly keepDeniedMessageId?: boolean;
}

/** Seconds a delivery waits for a concurrent delivery of the same Message-ID to finish. */
const SAME_MESSAGE_WAIT_SECONDS = 30;

/**
 * osTicket's e-mail channel (`POST /api/tickets.email`, TicketApiController::processEmail) over osTicket's
 * tables, in one transaction: a message whose Message-ID is stored already is a re-delivery (nothing
 * written); one whose In-Reply-To / References name a stored Message-ID, or whose subject carries the
 * `[#number]` of a ticket of its sender, is threaded onto that ticket; anything else opens a new ticket.
 *
 * `em` may already be in a transaction (the work joins it; start it READ COMMITTED, as ingestEmail's own
 * transaction is, or a delivery racing another one of the same message may not see that one's ticket),
 * else a fork runs its own. Deliveries of the same Message-ID are serialised, so a retried delivery racing
 * the first one is seen as a re-delivery.
 *
 * A message osTicket's MIME decoder cannot decode goes on as osTicket's EmailDataParser::onParseError
 * leaves it (its message is the error text, the raw mail its attachment; options.onParseFailure is told).
 *
 * Throws EmailParseError (not even a header can be read), EmailDeniedError (ban list / unregistered sender refused),
 * and the write core's TicketValidationError (e.g. no usable sender, no system mailbox configured); on
 * any error nothing is written (but the Message-ID of a denied mail when ingestEmail ran the transaction,
 * unless options.keepDeniedMessageId is false).
 */
export async function ingestEmail(
  em: EntityManager,
  input: IngestEmailInput,
  ports: Ports = {},
  options: IngestEmailOptions = {},
): Promise<IngestEmailResult> {
  const mail = await parseEmail(input.raw);
  if (mail.parseFailure) options.onParseFailure?.(mail.parseFailure);
  if (mail.notes?.length) options.onNotes?.(mail.notes);
  const keepDenied = options.keepDeniedMessageId ?? true;
  if (em.isInTransaction()) {
    try {
      return await ingestParsed(em, mail, input, ports, options);
    } catch (error) {
      if (!(error instanceof TicketDeniedError)) throw error;
      if (keepDenied) await recordDeniedMessage(sqlFor(em), mail.mid);
      throw new EmailDeniedError(error, mail.mid);
    }
  }
  // READ COMMITTED: once a concurrent delivery of the same message has committed, every read here sees it
  // (the per-message lock is released before commit; see ingestParsed).
  const outcome = await em.fork().transactional(
    async (txEm) => {
      try {
        return await ingestParsed(txEm, mail, input, ports, options);
      } catch (error) {
        if (!(error instanceof TicketDeniedError)) throw error;
        if (!keepDenied) throw new EmailDeniedError(error, mail.mid);
        // Committed on purpose: osTicket's mail fetcher keeps the refused Message-ID on record.
        await recordDeniedMessage(sqlFor(txEm), mail.mid);
        return error;
      }
    },
    { isolationLevel: "read committed" },
  );
  if (outcome instanceof TicketDeniedError) throw new EmailDeniedError(outcome, mail.mid);
  return outcome;
}

async function ingestParsed(
  em: EntityManager,
  mail: ParsedEmail,
  input: IngestEmailInput,
  ports: Ports,
  options: IngestEmailOptions,
): Promise<IngestEmailResult> {
  const tx = sqlFor(em);
  // Deliveries of one Message-ID take turns. The lock is a session lock, so it is released before the
  // commit; the first lookup in findThread is a locking read, which then waits for the other delivery's
  // commit and sees its row. Named per database and Message-ID (compared case-insensitively, as stored).
  const key = createHash("sha1").update(mail.mid.toLowerCase()).digest("hex");
  const lock = "CONCAT('ostmesh.mid.', SHA1(CONCAT(DATABASE(), ?)))";
  await tx.first(`SELECT GET_LOCK(${lock}, ?) AS got`, [key, SAME_MESSAGE_WAIT_SECONDS]);
  try {
    return await route(em, tx, mail, input, ports, options);
  } finally {
    await tx.first(`SELECT RELEASE_LOCK(${lock}) AS released`, [key]);
  }
}

async function route(
  em: EntityManager,
  tx: Sql,
  mail: ParsedEmail,
  input: IngestEmailInput,
  ports: Ports,
  options: IngestEmailOptions,
): Promise<IngestEmailResult> {
  const config = await loadConfig(tx);
  const mailboxes = await SystemMailboxes.load(tx);
  const addressed = addressing(mail, mailboxes);
  const body = mailBody(mail, {
    richText: config.flag("enable_richtext"),
    replySeparator: config.flag("strip_quoted_reply") ? config.get("reply_separator") : null,
  });
  const match = await findThread(
    tx,
    {
      mid: mail.mid,
      inReplyTo: mail.inReplyTo,
      references: mail.references,
      subject: mail.subject,
      fromEmail: mail.from?.address ?? "",
      body: body.text,
    },
    options.secretSalt,
  );

  // (1) Seen before. osTicket compares the stored Message-ID exactly: one that differs only in case was
  // found by the collation but is posted as a reply to that entry.
  if (match?.via === "message-id" && match.entry.mid === mail.mid) {
    return redelivered(tx, match.entry, addressed.systemEmailIds, mailboxes, ports);
  }
  // A mail whose own Message-ID this help desk made came back to it: osTicket stops the loop there.
  if (match && options.secretSalt && decodeMessageId(mail.mid, options.secretSalt)?.loopback) {
    const number = await tx.first("SELECT number FROM ost_ticket WHERE ticket_id = ? LOCK IN SHARE MODE", [
      match.entry.ticketId,
    ]);
    return {
      kind: "redelivered",
      ticketId: match.entry.ticketId,
      number: number ? str(number, "number") : "",
      matchedEntryId: match.entry.entryId,
      loop: true,
    };
  }

  // Inline images whose only reference went with the cut-off quote are dropped; images taken out of the
  // html body are kept either way (osTicket adds them after that check).
  const kept = mail.attachments.filter((a) => !(a.cid && body.strippedCids.has(a.cid)));
  const files = await storeMailFiles(em, [...kept, ...body.embedded]);
  if (match) {
    const reply = await postEmailReply(
      em,
      {
        mail,
        addressing: addressed,
        mailboxes,
        body,
        files: files.stored,
        failures: files.failures,
        entry: match.entry,
        subjectUserId: match.via === "subject" ? match.userId : 0,
        ...(match.via === "loopback" ? { loopback: match.sender } : {}),
        ip: input.ip,
      },
      ports,
    );
    if (reply) return reply;
  }
  const loopbackThread = options.secretSalt
    ? await findLoopbackThread(tx, { ...mail, body: body.text }, options.secretSalt)
    : undefined;
  if (loopbackThread) {
    const reply = await postEmailReply(
      em,
      {
        mail,
        addressing: addressed,
        mailboxes,
        body,
        files: files.stored,
        failures: files.failures,
        entry: loopbackThread.entry,
        subjectUserId: 0,
        loopback: loopbackThread.sender,
        ip: input.ip,
      },
      ports,
    );
    if (reply) return reply;
  }
  return createFromEmail(
    em,
    {
      mail,
      addressing: addressed,
      mailboxes,
      body,
      files: files.stored,
      failures: files.failures satisfies readonly AttachmentFailure[],
      config,
      ip: input.ip,
      fallbackEmailId: input.emailId ?? 0,
    },
    ports,
  );
}

async function redelivered(
  tx: Sql,
  entry: { readonly entryId: number; readonly ticketId: number; readonly threadId: number },
  systemEmailIds: readonly number[],
  mailboxes: SystemMailboxes,
  ports: Ports,
): Promise<Redelivered> {
  const row = await tx.first(
    "SELECT ticket_id, number, user_id, staff_id, team_id, dept_id, topic_id FROM ost_ticket WHERE ticket_id = ? LOCK IN SHARE MODE",
    [entry.ticketId],
  );
  if (row && systemEmailIds.length) {
    // Ticket::systemReferral runs on re-deliveries too (it writes only for a mailbox of another department).
    await withUseCase(tx, SYSTEM_ACTOR, ports, (ctx) =>
      referToMailboxDepartments(
        ctx,
        {
          ticketId: entry.ticketId,
          threadId: entry.threadId,
          ownerId: int(row, "user_id"),
          staffId: int(row, "staff_id"),
          teamId: int(row, "team_id"),
          deptId: int(row, "dept_id"),
          topicId: int(row, "topic_id"),
        },
        systemEmailIds,
        mailboxes,
      ),
    );
  }
  return {
    kind: "redelivered",
    ticketId: entry.ticketId,
    number: row ? str(row, "number") : "",
    matchedEntryId: entry.entryId,
  };
}
