import type { EntityManager } from "@mikro-orm/mysql";
import { StorageError, sanitizeFileName, storeFile } from "@ostmesh/attachment/storage/index.ts";
import type { AttachmentLink } from "../domain/thread/entries.ts";
import type { MailAttachment } from "./parse.ts";

/** A mail attachment stored in ost_file, ready to be linked to the entry. */
export interface StoredMailFile {
  readonly fileId: number;
  /** ost_file.key: `cid:` references in the body are rewritten to it. */
  readonly key: string;
  readonly name: string;
  /** ost_attachment.name: the name the mail gave, when it differs from the stored file's (a reused file). */
  readonly alias: string | null;
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
      const given = sanitizeFileName(file.name);
      stored.push({
        fileId: info.id,
        key: info.key,
        name: file.name,
        alias: given === info.name ? null : given,
        cid: file.cid,
      });
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

/**
 * The stored files as links of the new entry (ost_attachment type 'H'), inline where the body references
 * them; insertThreadEntry makes the same bytes twice one link.
 */
export function mailFileLinks(
  files: readonly StoredMailFile[],
  inline: ReadonlySet<number>,
): AttachmentLink[] {
  return files.map((f) => ({ fileId: f.fileId, name: f.alias, inline: inline.has(f.fileId) }));
}
