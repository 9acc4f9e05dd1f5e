import { phpTrim } from "@ostmesh/kit/osticket/html/format.ts";
import type { Sql } from "../domain/sql.ts";
import { EntryFlag } from "../domain/thread/entries.ts";
import type { Addressing } from "./mailboxes.ts";
import type { ParsedEmail } from "./parse.ts";

/**
 * ThreadEntry::create sets a reply flag on every entry created with recipients: REPLY_ALL for more than
 * one address, else REPLY_USER (so every e-mail entry has one, FACTS §1.4).
 */
export function replyFlag(addressing: Addressing): number {
  return addressing.recipientCount > 1 ? EntryFlag.REPLY_ALL : EntryFlag.REPLY_USER;
}

/**
 * The e-mail record of an entry: its recipients JSON and its ost_thread_entry_email row (Message-ID with
 * its angle brackets, the raw header block trimmed). `email_id` stays NULL: osTicket 1.18.1 looks the
 * mailbox up under the header name `Delivered-To` in a header map whose names it has lower-cased, so it
 * never finds one.
 */
export async function recordMessageHeaders(
  tx: Sql,
  entryId: number,
  mail: ParsedEmail,
  addressing: Addressing,
): Promise<void> {
  await tx.run("UPDATE ost_thread_entry SET recipients = ? WHERE id = ?", [
    addressing.recipientsJson,
    entryId,
  ]);
  await tx.run("INSERT INTO ost_thread_entry_email (thread_entry_id, mid, headers) VALUES (?, ?, ?)", [
    entryId,
    mail.mid,
    phpTrim(mail.header),
  ]);
}

/**
 * A refused ticket's Message-ID (ThreadEntry::logEmailHeaders(0, mid)): an ost_thread_entry_email row
 * that belongs to no entry.
 */
export async function recordDeniedMessage(tx: Sql, mid: string): Promise<void> {
  await tx.run("INSERT INTO ost_thread_entry_email (thread_entry_id, mid) VALUES (0, ?)", [mid]);
}
