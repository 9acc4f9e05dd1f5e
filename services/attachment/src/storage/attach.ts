import { AttachmentConflictError, InvalidArgumentError, ThreadEntryNotFoundError } from "./errors.ts";
import { sanitizeFileName } from "./filename.ts";
import { assertId, FILE_COLUMNS, type FileInfo, fileInfoFromRow, getFileInfo } from "./files.ts";
import { type Db, int, nullableText, type Row, run, selectRow, selectRows } from "./sql.ts";

/** An `ost_attachment` row of type `H` (a thread entry's file) with its file. */
export interface EntryAttachment {
  /** `ost_attachment.id` */
  id: number;
  /** The thread entry (`object_id`). */
  entryId: number;
  fileId: number;
  /** The override name (`ost_attachment.name`), null when the file's own name applies. */
  name: string | null;
  /** The name to show and download under: the override, else the file's name. */
  displayName: string;
  /** 1 when the entry's body references the file as `cid:` (inline image). */
  inline: boolean;
  lang: string | null;
  file: FileInfo;
}

export interface TicketAttachment extends EntryAttachment {
  threadId: number;
}

export interface AttachToEntryInput {
  entryId: number;
  fileId: number;
  /** The name the file was sent under; stored only when it differs from the file's own name. */
  name?: string;
  inline: boolean;
}

/**
 * Links a stored file to a thread entry (`ost_attachment`, type `H`). Idempotent: the same file on the
 * same entry stays one row, which takes the later name and inline flag (FACTS §2.4: two uploads of the same
 * bytes in one message give one row named after the second).
 */
export async function attachToEntry(em: Db, input: AttachToEntryInput): Promise<EntryAttachment> {
  assertId(input.entryId, "entryId");
  assertId(input.fileId, "fileId");
  if (typeof input.inline !== "boolean") throw new InvalidArgumentError("inline must be a boolean");

  return em.transactional(async (tx) => {
    const entry = await selectRow(tx, "SELECT `id` FROM `ost_thread_entry` WHERE `id` = ?", [input.entryId]);
    if (!entry) throw new ThreadEntryNotFoundError(input.entryId);
    const file = await getFileInfo(tx, input.fileId);
    const given = input.name === undefined ? null : sanitizeFileName(input.name);
    const name = given === null || given === file.name ? null : given;
    const inline = input.inline ? 1 : 0;

    const existing = await findEntryLink(tx, input.entryId, input.fileId);
    if (existing) {
      await run(tx, "UPDATE `ost_attachment` SET `name` = ?, `inline` = ? WHERE `id` = ?", [
        name,
        inline,
        existing,
      ]);
      return attachmentById(tx, existing);
    }
    try {
      const { insertId } = await run(
        tx,
        "INSERT INTO `ost_attachment` SET `type` = 'H', `object_id` = ?, `file_id` = ?, `name` = ?, `inline` = ?",
        [input.entryId, input.fileId, name, inline],
      );
      return attachmentById(tx, insertId);
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      // Either a concurrent link of the same file won the race, or the file is linked to this object id
      // under another type, which the (file_id, object_id) unique key forbids.
      const raced = await findEntryLink(tx, input.entryId, input.fileId);
      if (!raced) throw new AttachmentConflictError(input.fileId, input.entryId);
      await run(tx, "UPDATE `ost_attachment` SET `name` = ?, `inline` = ? WHERE `id` = ?", [
        name,
        inline,
        raced,
      ]);
      return attachmentById(tx, raced);
    }
  });
}

async function findEntryLink(tx: Db, entryId: number, fileId: number): Promise<number | null> {
  const row = await selectRow(
    tx,
    "SELECT `id` FROM `ost_attachment` WHERE `object_id` = ? AND `file_id` = ? AND `type` = 'H' FOR UPDATE",
    [entryId, fileId],
  );
  return row ? int(row.id, "ost_attachment.id") : null;
}

function isDuplicateKey(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const errno = "errno" in error ? error.errno : undefined;
  const code = "code" in error ? error.code : undefined;
  return errno === 1062 || code === "ER_DUP_ENTRY";
}

const ATTACHMENT_COLUMNS =
  "a.`id` AS `attachment_id`, a.`object_id`, a.`file_id`, a.`name` AS `attachment_name`, a.`inline`, a.`lang`";

function attachmentFromRow(row: Row): EntryAttachment {
  const file = fileInfoFromRow(row);
  const name = nullableText(row.attachment_name);
  return {
    id: int(row.attachment_id, "ost_attachment.id"),
    entryId: int(row.object_id, "ost_attachment.object_id"),
    fileId: int(row.file_id, "ost_attachment.file_id"),
    name,
    displayName: name ?? file.name,
    inline: Number(row.inline) === 1,
    lang: nullableText(row.lang),
    file,
  };
}

async function attachmentById(tx: Db, id: number): Promise<EntryAttachment> {
  const row = await selectRow(
    tx,
    `SELECT ${ATTACHMENT_COLUMNS}, ${FILE_COLUMNS} FROM \`ost_attachment\` a JOIN \`ost_file\` f ON f.\`id\` = a.\`file_id\` WHERE a.\`id\` = ?`,
    [id],
  );
  if (!row) throw new Error(`ost_attachment ${id} vanished within its own transaction`);
  return attachmentFromRow(row);
}

/** The files of one thread entry, in the order they were attached. */
export async function listEntryAttachments(em: Db, entryId: number): Promise<EntryAttachment[]> {
  assertId(entryId, "entryId");
  return (await listAttachmentsOfEntries(em, [entryId])).get(entryId) ?? [];
}

/** The files of many thread entries at once (one query), keyed by entry id; entries without files are absent. */
export async function listAttachmentsOfEntries(
  em: Db,
  entryIds: readonly number[],
): Promise<Map<number, EntryAttachment[]>> {
  for (const id of entryIds) assertId(id, "entryId");
  const result = new Map<number, EntryAttachment[]>();
  if (entryIds.length === 0) return result;
  const rows = await selectRows(
    em,
    `SELECT ${ATTACHMENT_COLUMNS}, ${FILE_COLUMNS} FROM \`ost_attachment\` a JOIN \`ost_file\` f ON f.\`id\` = a.\`file_id\`` +
      ` WHERE a.\`type\` = 'H' AND a.\`object_id\` IN (${entryIds.map(() => "?").join(", ")}) ORDER BY a.\`object_id\`, a.\`id\``,
    [...entryIds],
  );
  for (const row of rows) {
    const attachment = attachmentFromRow(row);
    const list = result.get(attachment.entryId);
    if (list) list.push(attachment);
    else result.set(attachment.entryId, [attachment]);
  }
  return result;
}

/** Every file attached to any entry of a ticket's thread (`ost_thread` object_type `T`), oldest entry first. */
export async function listTicketAttachments(em: Db, ticketId: number): Promise<TicketAttachment[]> {
  assertId(ticketId, "ticketId");
  const rows = await selectRows(
    em,
    `SELECT ${ATTACHMENT_COLUMNS}, e.\`thread_id\`, ${FILE_COLUMNS} FROM \`ost_thread\` t` +
      " JOIN `ost_thread_entry` e ON e.`thread_id` = t.`id`" +
      " JOIN `ost_attachment` a ON a.`object_id` = e.`id` AND a.`type` = 'H'" +
      " JOIN `ost_file` f ON f.`id` = a.`file_id`" +
      " WHERE t.`object_type` = 'T' AND t.`object_id` = ? ORDER BY e.`id`, a.`id`",
    [ticketId],
  );
  return rows.map((row) => ({
    ...attachmentFromRow(row),
    threadId: int(row.thread_id, "ost_thread_entry.thread_id"),
  }));
}

/** Where a page of attachments comes from: every entry of a ticket's thread, or one thread entry. */
export type AttachmentTarget = { ticketId: number } | { entryId: number };

export interface AttachmentPageOptions {
  /** Continue after this attachment (the last one of the previous page). */
  after?: { entryId: number; attachmentId: number };
  /** Page size (1-1000). */
  limit: number;
  /** Only entries of these `ost_thread_entry.type` letters (e.g. what an end user may see). */
  entryTypes?: readonly string[];
  /** Skip entries with any of these `ost_thread_entry.flags` bits set (e.g. HIDDEN). */
  excludeEntryFlags?: number;
}

export interface AttachmentPage {
  attachments: TicketAttachment[];
  /** More attachments follow the last one of this page. */
  hasMore: boolean;
}

/** One page of attachments in (entry id, attachment id) order, by keyset so pages stay stable and cheap. */
export async function listAttachmentsPage(
  em: Db,
  target: AttachmentTarget,
  options: AttachmentPageOptions,
): Promise<AttachmentPage> {
  const { limit } = options;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000)
    throw new InvalidArgumentError("limit must be between 1 and 1000");
  const where: string[] = ["a.`type` = 'H'"];
  const params: unknown[] = [];
  let from = "`ost_attachment` a JOIN `ost_thread_entry` e ON e.`id` = a.`object_id`";
  if ("ticketId" in target) {
    assertId(target.ticketId, "ticketId");
    from += " JOIN `ost_thread` t ON t.`id` = e.`thread_id` AND t.`object_type` = 'T'";
    where.push("t.`object_id` = ?");
    params.push(target.ticketId);
  } else {
    assertId(target.entryId, "entryId");
    where.push("a.`object_id` = ?");
    params.push(target.entryId);
  }
  if (options.entryTypes) {
    if (options.entryTypes.length === 0) return { attachments: [], hasMore: false };
    where.push(`e.\`type\` IN (${options.entryTypes.map(() => "?").join(", ")})`);
    params.push(...options.entryTypes);
  }
  if (options.excludeEntryFlags) {
    where.push("(e.`flags` & ?) = 0");
    params.push(options.excludeEntryFlags);
  }
  if (options.after) {
    const { entryId, attachmentId } = options.after;
    if (!Number.isSafeInteger(entryId) || !Number.isSafeInteger(attachmentId))
      throw new InvalidArgumentError("after must name an entry and an attachment");
    where.push("(e.`id` > ? OR (e.`id` = ? AND a.`id` > ?))");
    params.push(entryId, entryId, attachmentId);
  }
  const rows = await selectRows(
    em,
    `SELECT ${ATTACHMENT_COLUMNS}, e.\`thread_id\`, ${FILE_COLUMNS} FROM ${from}` +
      ` JOIN \`ost_file\` f ON f.\`id\` = a.\`file_id\` WHERE ${where.join(" AND ")}` +
      ` ORDER BY e.\`id\`, a.\`id\` LIMIT ${limit + 1}`,
    params,
  );
  const attachments = rows.slice(0, limit).map((row) => ({
    ...attachmentFromRow(row),
    threadId: int(row.thread_id, "ost_thread_entry.thread_id"),
  }));
  return { attachments, hasMore: rows.length > limit };
}
