import { createHash } from "node:crypto";
import { storeFile } from "@ostmesh/attachment/storage/index.ts";
import { type BodyFormat, bodySearchable, cleanBody } from "@ostmesh/kit/osticket/html/format.ts";
import { int, phpJsonEncode, str } from "../rows.ts";
import type { SearchRow } from "../search.ts";
import type { BatchRead, Row, Sql, SqlValue } from "../sql.ts";

/** `ost_thread_entry.flags` bits (include/class.thread.php L839-850). */
export const EntryFlag = {
  ORIGINAL_MESSAGE: 0x001,
  EDITED: 0x002,
  HIDDEN: 0x004,
  GUARDED: 0x008,
  RESENT: 0x010,
  COLLABORATOR: 0x020,
  BALANCED: 0x040,
  SYSTEM: 0x080,
  REPLY_ALL: 0x100,
  REPLY_USER: 0x200,
  CHILD: 0x400,
} as const;

/** A file (ost_file.id, stored by the attachment service) to link to a new entry. */
export interface AttachmentLink {
  readonly fileId: number;
  /** Name to show instead of the file's own (ost_attachment.name), null = the file's name. */
  readonly name?: string | null;
  /** Referenced from the HTML body through `cid:` (ost_attachment.inline = 1). */
  readonly inline?: boolean;
}

export interface NewThreadEntry {
  readonly threadId: number;
  /** M message, R response, N note. */
  readonly type: "M" | "R" | "N";
  readonly pid: number;
  readonly staffId: number;
  readonly userId: number;
  readonly poster: string;
  readonly source: string;
  /** As stored (already cleaned); null leaves the column NULL. */
  readonly title: string | null;
  /** As stored (already cleaned, see `cleanBody`); one of MAX_BODY_CHARS or more goes into a file. */
  readonly body: string;
  readonly format: BodyFormat;
  readonly ipAddress: string;
  /** Extra flags (ORIGINAL_MESSAGE, COLLABORATOR...); BALANCED, SYSTEM and REPLY_* are derived here. */
  readonly flags?: number;
  /**
   * `thread_entry_recipients`: e.g. {"to":{"5":"Name <a@b>"},"cc":{...}}; stored as JSON, and REPLY_ALL
   * (more than one address) or REPLY_USER is flagged. Null or empty: none.
   */
  readonly recipients?: RecipientList | null;
  readonly attachments?: readonly AttachmentLink[];
}

export interface InsertedEntry {
  readonly id: number;
  readonly flags: number;
  /** The `H` search row, or undefined for entries without a human author (osTicket does not index those). */
  readonly searchRow: SearchRow | undefined;
}

/**
 * Bodies of this many characters (code points, PHP's mb_strlen) or more do not go into the entry's TEXT
 * column: ThreadEntry::create stores them as a file instead (include/class.thread.php, "65,535 chars in text
 * field").
 */
export const MAX_BODY_CHARS = 65_000;

/** Whether a stored body is long enough to be moved into a file (see MAX_BODY_CHARS). */
export function isOversizedBody(body: string): boolean {
  // A string has at least as many UTF-16 units as code points: only long ones need counting.
  if (body.length < MAX_BODY_CHARS) return false;
  let chars = 0;
  for (const _ of body) if (++chars >= MAX_BODY_CHARS) return true;
  return false;
}

/**
 * INSERTs a thread entry as ThreadEntry::create leaves it: `created` NOW(), `updated` left to the zero date,
 * BALANCED for html, SYSTEM without author; links attachments (type `H`, one row per file, the later name
 * winning). The caller writes the returned search row.
 *
 * An oversized body (isOversizedBody) is stored first as an inline `text/html` file named `<md5>.txt`, never
 * deduplicated (AttachmentFile::create gets no size for it), linked after the entry's other files without a
 * name; osTicket sets the body NULL, which its ORM leaves out of the INSERT, so the NOT NULL column holds its
 * implicit default ''. The search row still indexes the whole body: osTicket indexes ThreadEntry::getBody,
 * which reads it back from that file.
 */
export async function insertThreadEntry(tx: Sql, entry: NewThreadEntry): Promise<InsertedEntry> {
  const bodyFileId = isOversizedBody(entry.body) ? await storeBodyFile(tx, entry.body) : 0;
  let flags = entry.flags ?? 0;
  const recipientCount = Object.values(entry.recipients ?? {}).reduce((n, list) => n + list.length, 0);
  const recipients =
    entry.recipients && Object.keys(entry.recipients).length ? encodeRecipients(entry.recipients) : null;
  if (recipients) flags |= recipientCount > 1 ? EntryFlag.REPLY_ALL : EntryFlag.REPLY_USER;
  if (entry.format === "html") flags |= EntryFlag.BALANCED;
  if (!entry.staffId && !entry.userId) flags |= EntryFlag.SYSTEM;
  const { insertId } = await tx.run(
    "INSERT INTO ost_thread_entry (pid, thread_id, staff_id, user_id, type, flags, poster, source, title, body," +
      " format, ip_address, recipients, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NOW())",
    [
      entry.pid,
      entry.threadId,
      entry.staffId,
      entry.userId,
      entry.type,
      flags,
      entry.poster,
      entry.source,
      entry.title,
      bodyFileId ? "" : entry.body,
      entry.format,
      entry.ipAddress,
      recipients,
    ],
  );
  const files = new Map<number, AttachmentLink>();
  for (const a of entry.attachments ?? []) files.set(a.fileId, a);
  if (bodyFileId) files.set(bodyFileId, { fileId: bodyFileId, inline: true });
  if (files.size) {
    const params: SqlValue[] = [...files.values()].flatMap((a) => [
      insertId,
      a.fileId,
      a.name ?? null,
      a.inline ? 1 : 0,
    ]);
    tx.later(
      `INSERT INTO ost_attachment (object_id, file_id, name, inline, type) VALUES ${[...files.keys()]
        .map(() => "(?, ?, ?, ?, 'H')")
        .join(", ")}`,
      params,
    );
  }
  return {
    id: insertId,
    flags,
    searchRow:
      entry.staffId || entry.userId
        ? {
            objectType: "H",
            objectId: insertId,
            title: entry.title ?? "",
            content: bodySearchable(entry.body, entry.format),
          }
        : undefined,
  };
}

/** Stores an oversized body as ThreadEntry::create does (see insertThreadEntry); its ost_file id. */
async function storeBodyFile(tx: Sql, body: string): Promise<number> {
  const data = Buffer.from(body, "utf8");
  const file = await storeFile(tx.em, {
    name: `${createHash("md5").update(data).digest("hex")}.txt`,
    declaredType: "text/html",
    source: data,
    maxBytes: Number.MAX_SAFE_INTEGER,
    purpose: "T",
    deduplicate: false,
    // The body is the body, whatever its first bytes look like: osTicket checks no content here.
    checkContent: false,
  });
  return file.id;
}

/**
 * Recipients by kind (`to`, `cc`): [key, "Name <address>"] pairs in MailingList order. Pairs rather than
 * an object because JavaScript objects reorder integer keys, and osTicket's JSON keeps the list's order.
 */
export type RecipientList = Readonly<Record<string, ReadonlyArray<readonly [key: string, address: string]>>>;

/** The recipients as PHP's json_encode writes MailingList::getEmailAddresses (keys in list order). */
function encodeRecipients(list: RecipientList): string {
  const kinds = Object.entries(list).map(
    ([kind, pairs]) =>
      `${phpJsonEncode(kind)}:{${pairs.map(([key, address]) => `${phpJsonEncode(key)}:${phpJsonEncode(address)}`).join(",")}}`,
  );
  return `{${kinds.join(",")}}`;
}

/**
 * Ticket::getRecipients as MailingList::getEmailAddresses lists them: the owner under `to` (keyed by user
 * id), active collaborators under `cc` (keyed by collaborator id), as "Name <address>"; `exceptUserId`
 * leaves the poster out (end-user messages); a non-empty `ccUserIds` (getRecipients' whitelist) lists
 * only those users' collaborators.
 */
export function ticketRecipients(
  tx: Sql,
  ticket: { threadId: number; userId: number },
  who: "all" | "user",
  exceptUserId = 0,
  ccUserIds: readonly number[] = [],
): Promise<RecipientList> {
  return tx.read(ticketRecipientsRead(ticket, who, exceptUserId, ccUserIds));
}

/** ticketRecipients as a statement for a round trip shared with other reads. */
export function ticketRecipientsRead(
  ticket: { threadId: number; userId: number },
  who: "all" | "user",
  exceptUserId = 0,
  ccUserIds: readonly number[] = [],
): BatchRead<RecipientList> {
  return {
    statements: [
      {
        sql:
          "SELECT 'to' AS kind, u.id AS id, u.id AS user_id, u.name, e.address FROM ost_user u" +
          " LEFT JOIN ost_user_email e ON e.id = u.default_email_id WHERE u.id = ?" +
          (who === "all"
            ? " UNION ALL SELECT 'cc', c.id, u.id, u.name, e.address FROM ost_thread_collaborator c JOIN ost_user u ON u.id = c.user_id" +
              " LEFT JOIN ost_user_email e ON e.id = u.default_email_id WHERE c.thread_id = ? AND c.flags & 1"
            : ""),
        params: who === "all" ? [ticket.userId, ticket.threadId] : [ticket.userId],
      },
    ],
    read: ([rows = []]) => recipientListOf(rows, exceptUserId, ccUserIds),
  };
}

function recipientListOf(
  rows: readonly Row[],
  exceptUserId: number,
  ccUserIds: readonly number[],
): RecipientList {
  const list: Record<string, Array<readonly [string, string]>> = {};
  const ordered = [...rows].sort((a, b) =>
    str(a, "kind") === str(b, "kind")
      ? str(a, "name").localeCompare(str(b, "name"))
      : str(a, "kind") === "to"
        ? -1
        : 1,
  );
  for (const r of ordered) {
    if (exceptUserId && int(r, "user_id") === exceptUserId) continue;
    if (ccUserIds.length && str(r, "kind") === "cc" && !ccUserIds.includes(int(r, "user_id"))) continue;
    const address = str(r, "address");
    const name = str(r, "name") || address.split("@")[0] || "";
    const kind = str(r, "kind");
    list[kind] = [...(list[kind] ?? []), [String(int(r, "id")), `${name} <${address}>`]];
  }
  return list;
}

/** A file that could not be stored for a new entry (its name, and why). */
export interface FileImportError {
  readonly name: string;
  readonly message: string;
}

/**
 * The SYSTEM internal note osTicket posts for each file it could not store, titled "File Import Error"
 * with `<name>: <why>` as its text. osTicket logs it while it creates the entry the file came with, so the
 * note comes before that entry in the thread (FACTS §2.4).
 */
export async function insertFileImportErrorNote(
  tx: Sql,
  threadId: number,
  failure: FileImportError,
): Promise<number> {
  const entry = await insertThreadEntry(tx, {
    threadId,
    type: "N",
    pid: 0,
    staffId: 0,
    userId: 0,
    poster: "SYSTEM",
    source: "",
    title: "File Import Error",
    body: cleanBody(`${failure.name}: ${failure.message}`, "text"),
    format: "text",
    ipAddress: "",
  });
  return entry.id;
}
