import { int, str } from "../domain/rows.ts";
import type { Sql } from "../domain/sql.ts";
import { listedMessageIds } from "./headers.ts";
import { decodeMessageId } from "./loopback.ts";

/** A thread entry of a ticket that a mail refers to. */
export interface MatchedEntry {
  readonly entryId: number;
  readonly threadId: number;
  readonly ticketId: number;
  /** The Message-ID stored with the entry ('' when it has none). */
  readonly mid: string;
}

export type ThreadMatch =
  /** (1) The mail's own Message-ID is stored: it was processed before. */
  | { readonly via: "message-id"; readonly entry: MatchedEntry }
  /** (2) In-Reply-To / References (or a `Ref-Mid` in the body) name a stored Message-ID. */
  | { readonly via: "references"; readonly entry: MatchedEntry }
  /** (2a) A referenced id is one of osTicket's own, naming the entry and who the mail was sent to. */
  | { readonly via: "loopback"; readonly entry: MatchedEntry; readonly sender: LoopbackSender }
  /** (3) `[#number]` in the subject, from the ticket's owner or a collaborator (`userId`). */
  | { readonly via: "subject"; readonly entry: MatchedEntry; readonly userId: number };

/** Who a loopback Message-ID says the mail was sent to, corrected by the actual sender's address. */
export interface LoopbackSender {
  readonly userId: number;
  readonly staffId: number;
  /** U owner, C collaborator, S / A staff, M / ? unknown. */
  readonly userClass: string;
}

const ENTRY_OF_TICKET =
  "SELECT te.id, te.thread_id, th.object_id, e.mid FROM ost_thread_entry_email e" +
  " JOIN ost_thread_entry te ON te.id = e.thread_entry_id" +
  " JOIN ost_thread th ON th.id = te.thread_id AND th.object_type IN ('T', 'C')";

function toEntry(row: Record<string, unknown>): MatchedEntry {
  return {
    entryId: int(row, "id"),
    threadId: int(row, "thread_id"),
    ticketId: int(row, "object_id"),
    mid: str(row, "mid"),
  };
}

/**
 * ThreadEntry::lookupByEmailHeaders, in osTicket's order. Message-IDs are compared by the column's
 * case-insensitive collation, as osTicket's lookups are. The first lookup is a locking read, so it sees a
 * concurrent delivery of the same message that committed first.
 */
export async function findThread(
  tx: Sql,
  mail: {
    readonly mid: string;
    readonly inReplyTo: string;
    readonly references: string;
    readonly subject: string;
    readonly fromEmail: string;
    readonly body: string;
  },
  /** osTicket's SECRET_SALT: when known, Message-IDs its PHP mailer made are decoded and trusted. */
  secretSalt?: string,
): Promise<ThreadMatch | undefined> {
  if (mail.mid) {
    const seen = await tx.first(
      `${ENTRY_OF_TICKET} WHERE e.mid = ? ORDER BY te.id LIMIT 1 LOCK IN SHARE MODE`,
      [mail.mid],
    );
    if (seen) return { via: "message-id", entry: toEntry(seen) };
  }

  const possibles = referencedIds(mail);
  if (secretSalt) {
    for (const possible of possibles) {
      const found = await loopbackEntry(tx, possible, secretSalt, mail.fromEmail);
      if (found) return found;
    }
  }
  if (possibles.length) {
    const referenced = await tx.first(
      `${ENTRY_OF_TICKET} WHERE e.mid IN (${possibles.map(() => "?").join(", ")}) ORDER BY te.created, te.id LIMIT 1`,
      possibles.map((p) => `<${p}>`),
    );
    if (referenced) return { via: "references", entry: toEntry(referenced) };
  }

  // Last resort: the ticket number in the subject, only for its owner or a collaborator.
  const number = subjectTicketNumber(mail.subject);
  if (!number || !mail.fromEmail) return undefined;
  const row = await tx.first(
    "SELECT t.ticket_id, t.user_id, th.id AS thread_id, m.user_id AS sender," +
      " (SELECT c.id FROM ost_thread_collaborator c WHERE c.thread_id = th.id AND c.user_id = m.user_id LIMIT 1) AS collaborator," +
      " (SELECT le.id FROM ost_thread_entry le WHERE le.thread_id = th.id AND le.type = 'M' ORDER BY le.id DESC LIMIT 1) AS last_message" +
      " FROM ost_ticket t JOIN ost_thread th ON th.object_id = t.ticket_id AND th.object_type = 'T'" +
      " JOIN ost_user_email m ON m.address = ? JOIN ost_user u ON u.id = m.user_id" +
      " WHERE t.number = ? ORDER BY t.ticket_id, th.id LIMIT 1",
    [mail.fromEmail, number],
  );
  if (!row) return undefined;
  const sender = int(row, "sender");
  const isOwner = sender === int(row, "user_id");
  if (!isOwner && !int(row, "collaborator")) return undefined;
  const lastMessage = int(row, "last_message");
  if (!lastMessage) return undefined;
  const entry = await tx.first(
    "SELECT te.id, te.thread_id, ? AS object_id, COALESCE((SELECT e.mid FROM ost_thread_entry_email e" +
      " WHERE e.thread_entry_id = te.id ORDER BY e.id LIMIT 1), '') AS mid FROM ost_thread_entry te WHERE te.id = ?",
    [int(row, "ticket_id"), lastMessage],
  );
  return entry ? { via: "subject", entry: toEntry(entry), userId: sender } : undefined;
}

/** Message ids a mail refers to, most recent reference first (References lists the parent last). */
function referencedIds(mail: {
  readonly mid: string;
  readonly inReplyTo: string;
  readonly references: string;
  readonly body: string;
}): string[] {
  const possibles: string[] = [];
  for (const value of [mail.mid, mail.inReplyTo, mail.references]) {
    if (value) possibles.push(...listedMessageIds(value).reverse());
  }
  // Mailer::send's hidden marker (html) or Ref-Mid line (the text part's last line). PCRE's `$` also matches
  // before a final line break, which a quoted text body ends with.
  const embedded = /(?:class="mid-|Ref-Mid: )([^"\s]*)(?:$|(?=\n$)|")/.exec(mail.body)?.[1];
  if (embedded !== undefined && !possibles.includes(embedded)) possibles.push(embedded);
  return possibles;
}

/**
 * Thread::lookupByEmailHeaders, tried when no entry took the mail: an osTicket-made id naming a ticket's
 * thread (a mail osTicket sent without a thread entry). The reply then has no parent entry (pid 0); the
 * recipient the id names is taken as it is, but not its class: this lookup never records it, so the sender's
 * address alone decides the author (an agent answering such an alert posts a "Received From" message).
 */
export async function findLoopbackThread(
  tx: Sql,
  mail: {
    readonly mid: string;
    readonly inReplyTo: string;
    readonly references: string;
    readonly body: string;
  },
  secretSalt: string,
): Promise<{ entry: MatchedEntry; sender: LoopbackSender } | undefined> {
  for (const possible of referencedIds(mail)) {
    const info = decodeMessageId(possible, secretSalt);
    if (!info?.loopback || info.uid === undefined || !info.threadId) continue;
    const thread = await tx.first(
      "SELECT id, object_id FROM ost_thread WHERE id = ? AND object_type IN ('T', 'C')",
      [info.threadId],
    );
    if (!thread) continue;
    return {
      entry: { entryId: 0, threadId: int(thread, "id"), ticketId: int(thread, "object_id"), mid: "" },
      sender: { userId: info.userId ?? 0, staffId: info.staffId ?? 0, userClass: "" },
    };
  }
  return undefined;
}

/**
 * The ticket number osTicket reads from a subject: `#` then runs of (optional punctuation, then letters,
 * digits or symbols), so `Re: [#123456] Printer` gives `123456` and `#AB-12` gives `AB-12`.
 */
export function subjectTicketNumber(subject: string): string | undefined {
  return /#((\p{P}*[^\p{C}\p{Z}\p{P}]+)+)/u.exec(subject)?.[1];
}

/**
 * The entry an osTicket-made Message-ID names (its thread must match too). The recipient it was sent to is
 * replaced by the user or agent owning the sender's address when that is someone else.
 */
async function loopbackEntry(
  tx: Sql,
  mid: string,
  salt: string,
  fromEmail: string,
): Promise<ThreadMatch | undefined> {
  const info = decodeMessageId(mid, salt);
  if (!info?.loopback || info.uid === undefined || !info.entryId) return undefined;
  const row = await tx.first(
    "SELECT te.id, te.thread_id, th.object_id, COALESCE((SELECT e.mid FROM ost_thread_entry_email e" +
      " WHERE e.thread_entry_id = te.id ORDER BY e.id LIMIT 1), '') AS mid FROM ost_thread_entry te" +
      " JOIN ost_thread th ON th.id = te.thread_id AND th.object_type IN ('T', 'C') WHERE te.id = ?",
    [info.entryId],
  );
  if (!row || int(row, "thread_id") !== info.threadId) return undefined;
  let userId = info.userId ?? 0;
  let staffId = 0;
  if (userId) {
    const user = fromEmail
      ? await tx.first("SELECT user_id FROM ost_user_email WHERE address = ? LIMIT 1", [fromEmail])
      : undefined;
    if (user && int(user, "user_id") !== userId) userId = int(user, "user_id");
  } else if (info.staffId) {
    staffId = info.staffId;
    const staff = fromEmail
      ? await tx.first("SELECT staff_id FROM ost_staff WHERE email = ? LIMIT 1", [fromEmail])
      : undefined;
    if (staff && int(staff, "staff_id") !== staffId) staffId = int(staff, "staff_id");
  }
  return {
    via: "loopback",
    entry: toEntry(row),
    sender: { userId, staffId, userClass: info.userClass ?? "" },
  };
}
