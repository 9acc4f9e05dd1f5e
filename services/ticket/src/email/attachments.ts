import { createHash } from "node:crypto";
import type { EntityManager } from "@mikro-orm/mysql";
import { attachToEntry, StorageError, storeFile } from "@ostmesh/attachment/storage/index.ts";
import { sqlFor } from "../domain/sql.ts";
import type { MailAttachment } from "./parse.ts";

/** A mail attachment stored in ost_file, ready to be linked to the entry. */
export interface StoredMailFile {
  readonly fileId: number;
  /** ost_file.key: `cid:` references in the body are rewritten to it. */
  readonly key: string;
  readonly name: string;
  readonly cid: string | undefined;
}

/** An attachment that could not be stored (osTicket posts these as a "File Import Error" note). */
export interface AttachmentFailure {
  readonly name: string;
  readonly message: string;
}

/**
 * Stores the mail's files (ft 'T', deduplicated by content unless the file says otherwise) through the
 * attachment service's storage core, in the caller's transaction. E-mail attachments have no size or type
 * limit in osTicket; a file the storage core refuses is reported instead of failing the mail.
 *
 * Names go through the storage core's sanitizeFileName, where osTicket's AttachmentFile::create stores them
 * as given (then cut to 255 characters by the column, the `.eml` of a long subject with it): a raw mail
 * named after the subject `PO 2024/11` is `11.eml` here and `PO 2024/11.eml` in osTicket.
 */
export async function storeMailFiles(
  em: EntityManager,
  files: readonly MailAttachment[],
): Promise<{ stored: StoredMailFile[]; failures: AttachmentFailure[] }> {
  const stored: StoredMailFile[] = [];
  const failures: AttachmentFailure[] = [];
  for (const file of files) {
    try {
      const info = await storeFile(em, {
        name: file.name,
        declaredType: file.type,
        source: file.data,
        maxBytes: Number.MAX_SAFE_INTEGER,
        purpose: "T",
        deduplicate: file.deduplicate ?? true,
      });
      stored.push({ fileId: info.id, key: info.key, name: file.name, cid: file.cid });
    } catch (error) {
      if (!(error instanceof StorageError)) throw error;
      failures.push({ name: file.name, message: error.osTicketMessage });
    }
  }
  return { stored, failures };
}

/**
 * ThreadEntry::create's handling of inline images: a file whose Content-ID the body references is inline,
 * and every `src="cid:<content-id>"` is rewritten to `src="cid:<file key>"` (the Content-ID is not kept).
 */
export function rewriteInlineImages(
  body: string,
  files: readonly StoredMailFile[],
): { body: string; inline: ReadonlySet<number> } {
  const inline = new Set<number>();
  let out = body;
  for (const f of files) {
    if (f.cid && body.includes(`cid:${f.cid}`)) inline.add(f.fileId);
  }
  for (const f of files) {
    if (!f.cid) continue;
    const cid = f.cid.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    out = out.replace(new RegExp(`src=("|'|\\b)(?:cid:)?${cid}\\1`, "gi"), `src="cid:${f.key}"`);
  }
  return { body: out, inline };
}

/** Links the stored files to the entry (ost_attachment type 'H'); the same bytes twice stay one link. */
export async function linkMailFiles(
  em: EntityManager,
  entryId: number,
  files: readonly StoredMailFile[],
  inline: ReadonlySet<number>,
): Promise<void> {
  for (const f of files) {
    await attachToEntry(em, { entryId, fileId: f.fileId, name: f.name, inline: inline.has(f.fileId) });
  }
}

/** Bodies this long (in characters) do not fit osTicket's TEXT column and are stored as a file instead. */
export const MAX_BODY_CHARS = 65_000;

/**
 * ThreadEntry::create for a body of 65,000 characters or more: the body (as it would have been stored) goes
 * into an inline `text/html` file named `<md5>.txt`, stored without deduplication. osTicket sets the body to NULL, which its ORM leaves
 * out of the INSERT, so the NOT NULL column gets its implicit default: the stored body is ''.
 */
export async function moveOversizedBody(
  em: EntityManager,
  entryId: number,
  storedBody: string,
): Promise<boolean> {
  if (Array.from(storedBody).length < MAX_BODY_CHARS) return false;
  const data = Buffer.from(storedBody, "utf8");
  const file = await storeFile(em, {
    name: `${createHash("md5").update(data).digest("hex")}.txt`,
    declaredType: "text/html",
    source: data,
    maxBytes: Number.MAX_SAFE_INTEGER,
    purpose: "T",
    // osTicket passes no size for it, so AttachmentFile::create never reuses an identical stored file.
    deduplicate: false,
  });
  await sqlFor(em).run("UPDATE ost_thread_entry SET body = '' WHERE id = ?", [entryId]);
  await attachToEntry(em, { entryId, fileId: file.id, inline: true });
  return true;
}
