import type { SearchRow } from "../search.ts";
import type { Sql, SqlValue } from "../sql.ts";
import { type BodyFormat, bodySearchable } from "../text/format.ts";

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
  /** As stored (already cleaned, see `cleanBody`). */
  readonly body: string;
  readonly format: BodyFormat;
  readonly ipAddress: string;
  /** Extra flags (ORIGINAL_MESSAGE, COLLABORATOR...); BALANCED and SYSTEM are derived here. */
  readonly flags?: number;
  readonly attachments?: readonly AttachmentLink[];
}

export interface InsertedEntry {
  readonly id: number;
  readonly flags: number;
  /** The `H` search row, or undefined for entries without a human author (osTicket does not index those). */
  readonly searchRow: SearchRow | undefined;
}

/**
 * INSERTs a thread entry as ThreadEntry::create leaves it: `created` NOW(), `updated` left to the zero date,
 * BALANCED for html, SYSTEM without author; links attachments (type `H`, one row per file, the later name
 * winning). The caller writes the returned search row.
 */
export async function insertThreadEntry(tx: Sql, entry: NewThreadEntry): Promise<InsertedEntry> {
  let flags = entry.flags ?? 0;
  if (entry.format === "html") flags |= EntryFlag.BALANCED;
  if (!entry.staffId && !entry.userId) flags |= EntryFlag.SYSTEM;
  const { insertId } = await tx.run(
    "INSERT INTO ost_thread_entry (pid, thread_id, staff_id, user_id, type, flags, poster, source, title, body," +
      " format, ip_address, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NOW())",
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
      entry.body,
      entry.format,
      entry.ipAddress,
    ],
  );
  const files = new Map<number, AttachmentLink>();
  for (const a of entry.attachments ?? []) files.set(a.fileId, a);
  if (files.size) {
    const params: SqlValue[] = [...files.values()].flatMap((a) => [
      insertId,
      a.fileId,
      a.name ?? null,
      a.inline ? 1 : 0,
    ]);
    await tx.run(
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
