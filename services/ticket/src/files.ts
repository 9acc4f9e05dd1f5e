/**
 * Files attached to new thread entries.
 *
 * Why this shape: ost_file / ost_file_chunk belong to the attachment service (DESIGN principle 3), so
 * inline bytes are stored through AttachmentService.UploadFile, and files named by id are checked through
 * GetFileInfo — both before the ticket's transaction starts, so that transaction never waits on another
 * service. The link itself (one ost_attachment row per file, type 'H') is written by the ticket's own use
 * case inside its transaction: a ticket and its attachments commit together or not at all. If the ticket
 * then fails, the uploaded files are orphans, exactly what osTicket leaves behind (it stores attachments
 * before validating the ticket, FACTS §2.1); the attachment service's PurgeOrphanFiles (osTicket's cron
 * rule: unreferenced ft 'T' files older than a day) is the compensation. Linking after commit through
 * AttachFiles instead would leave committed tickets without their files whenever that second call failed.
 */
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { AttachmentService } from "@ostmesh/proto/gen/osticket/attachment/v1/attachment_service_pb.js";
import { ValidationErrorsSchema } from "@ostmesh/proto/gen/osticket/common/v1/errors_pb.js";
import type { AttachmentInput } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import type { AttachmentLink } from "./domain/index.ts";
import { invalidArgument } from "./errors.ts";

/** What the ticket service needs from the attachment service. */
export interface FileStore {
  /** Stores bytes; the ost_file id and key of the stored (or deduplicated) file. */
  upload(
    file: { name: string; type: string; data: Uint8Array; legacySize: bigint; keepDeclaredType: boolean },
    call: CallOptions,
  ): Promise<StoredFile>;
  /** A stored file, undefined when there is none with that id. */
  find(fileId: number, call: CallOptions): Promise<StoredFile | undefined>;
}

/** A file in osTicket's storage: ost_file.id and ost_file.key (what `cid:` references in bodies name). */
export interface StoredFile {
  readonly id: number;
  readonly key: string;
  /** ost_file.name, when known. */
  readonly name?: string;
  /** An upload whose content was already stored: that file was reused, under its own name. */
  readonly deduplicated?: boolean;
}

export interface CallOptions {
  readonly signal: AbortSignal;
  /** Authorization header to send (the ticket service's own credential, else the caller's). */
  readonly authorization: string | undefined;
}

/** FileStore over AttachmentService (in-process or remote, as the topology says). */
export class AttachmentServiceFileStore implements FileStore {
  readonly #client: Client<typeof AttachmentService>;

  constructor(client: Client<typeof AttachmentService>) {
    this.#client = client;
  }

  async upload(
    file: { name: string; type: string; data: Uint8Array; legacySize: bigint; keepDeclaredType: boolean },
    call: CallOptions,
  ): Promise<StoredFile> {
    const res = await this.#client.uploadFile(
      {
        name: file.name,
        type: file.type,
        data: file.data,
        legacySize: file.legacySize,
        keepDeclaredType: file.keepDeclaredType,
      },
      {
        signal: call.signal,
        headers: call.authorization ? { authorization: call.authorization } : undefined,
      },
    );
    if (!res.file) throw new ConnectError("UploadFile returned no file", Code.Internal);
    return { id: res.file.id, key: res.file.key, name: res.file.name, deduplicated: res.deduplicated };
  }

  async find(fileId: number, call: CallOptions): Promise<StoredFile | undefined> {
    try {
      const res = await this.#client.getFileInfo(
        { fileId },
        {
          signal: call.signal,
          headers: call.authorization ? { authorization: call.authorization } : undefined,
        },
      );
      return res.file ? { id: res.file.id, key: res.file.key } : undefined;
    } catch (error) {
      if (error instanceof ConnectError && error.code === Code.NotFound) return undefined;
      throw error;
    }
  }
}

/** A file that could not be stored for a legacy request: osTicket's "File Import Error" note lists it. */
export interface ImportError {
  readonly name: string;
  readonly description: string;
}

export interface PreparedFiles {
  readonly links: AttachmentLink[];
  readonly importErrors: ImportError[];
  /**
   * The stored files the request names by id (`attachments[i].file_id`): existence is checked here with the
   * service's credential, so the handler must still check the CALLER may link them (access.ts
   * assertMayLinkFiles) inside its transaction before linking.
   */
  readonly named: { readonly fileId: number; readonly field: string }[];
  /** The stored file's key for each Content-ID the request gave (AttachmentInput.content_id). */
  readonly contentIds: { readonly contentId: string; readonly key: string }[];
}

/** Failures a legacy request forgives: the file is dropped (too large) or noted (anything else). */
function isFileProblem(error: ConnectError): boolean {
  return (
    error.code === Code.InvalidArgument ||
    error.code === Code.ResourceExhausted ||
    error.code === Code.FailedPrecondition
  );
}

/** osTicket's texts for a file it cannot take (FileUploadError in TicketApiController::validate). */
const UNSAVED = "Unable to save file";
const OSTICKET_FILE_TEXTS: ReadonlySet<string> = new Set([
  UNSAVED,
  "File type is not allowed",
  "File size is too large",
]);

/** The osTicket text the attachment service gave with its refusal, else "Unable to save file". */
function importErrorText(error: ConnectError): string {
  const described = error.findDetails(ValidationErrorsSchema)[0]?.violations[0]?.description ?? "";
  return OSTICKET_FILE_TEXTS.has(described) ? described : UNSAVED;
}

/**
 * Bytes osTicket's storage cannot write: its chunk writer loops `while ($block = substr(...))`, so content
 * that is empty or the single character "0" (falsy in PHP) writes no chunk and the upload fails.
 */
function osTicketCannotWrite(data: Uint8Array): boolean {
  return data.byteLength === 0 || (data.byteLength === 1 && data[0] === 0x30);
}

/**
 * Stores and checks a request's attachments before its transaction. Legacy requests keep osTicket's
 * behaviour: a file above the size limit is dropped silently, any other unstorable file (a type the
 * message field does not allow, empty content) becomes an import error with osTicket's text (posted as a
 * "File Import Error" note) and the ticket is created anyway. Typed requests fail with INVALID_ARGUMENT
 * naming the attachment instead.
 */
export async function prepareFiles(
  store: FileStore | undefined,
  attachments: readonly AttachmentInput[],
  call: CallOptions,
  legacy: boolean,
): Promise<PreparedFiles> {
  const links: AttachmentLink[] = [];
  const importErrors: ImportError[] = [];
  const named: { fileId: number; field: string }[] = [];
  const contentIds: { contentId: string; key: string }[] = [];
  if (attachments.length === 0) return { links, importErrors, named, contentIds };
  if (!store)
    throw new ConnectError("attachments are not available: no attachment service", Code.Unavailable);
  for (const [i, a] of attachments.entries()) {
    const field = `attachments[${i}]`;
    const name = a.name || undefined;
    switch (a.source.case) {
      case "file": {
        const file = a.source.value;
        if (!file.name && !legacy) throw invalidArgument(`${field}.file.name`, "a file needs a name");
        if (legacy && osTicketCannotWrite(file.data)) {
          importErrors.push({ name: file.name, description: UNSAVED });
          break;
        }
        try {
          const stored = await store.upload(
            // osTicket stores the declared type without looking at the content.
            {
              name: file.name,
              type: file.type,
              data: file.data,
              legacySize: file.legacySize,
              keepDeclaredType: legacy,
            },
            call,
          );
          links.push({ fileId: stored.id, name: name ?? reusedUnder(stored, file.name), inline: a.inline });
          if (a.contentId) contentIds.push({ contentId: a.contentId, key: stored.key });
        } catch (error) {
          if (!(error instanceof ConnectError) || !isFileProblem(error)) throw error;
          if (!legacy) throw invalidArgument(`${field}.file`, `${file.name}: ${error.rawMessage}`);
          if (error.code === Code.ResourceExhausted) continue;
          importErrors.push({ name: file.name, description: importErrorText(error) });
        }
        break;
      }
      case "fileId": {
        // Same answer as a file the caller may not see (access.ts assertMayLinkFiles): existence never leaks.
        const stored = await store.find(a.source.value, call);
        if (!stored)
          throw new ConnectError(`${field}.file_id: file ${a.source.value} not found`, Code.NotFound);
        links.push({ fileId: a.source.value, name: name ?? null, inline: a.inline });
        if (a.contentId) contentIds.push({ contentId: a.contentId, key: stored.key });
        named.push({ fileId: a.source.value, field: `${field}.file_id` });
        break;
      }
      default:
        throw invalidArgument(field, "an attachment needs a file or a file_id");
    }
  }
  return { links, importErrors, named, contentIds };
}

/**
 * GenericAttachments::upload's "varying file names": a file whose content was already stored under another
 * name (compared as strcasecmp does, ASCII case folded) is linked under the name it was sent with
 * (ost_attachment.name); null keeps the stored file's name.
 */
function reusedUnder(stored: StoredFile, sentName: string): string | null {
  if (!stored.deduplicated || stored.name === undefined || !sentName) return null;
  const fold = (text: string) => text.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return fold(stored.name) === fold(sentName) ? null : sentName;
}

/**
 * ThreadEntry::create's rewrite of inline images: every `src="cid:<content-id>"` of the body names the
 * stored file's key instead (the Content-ID is not kept). osTicket's staff panel and client portal turn
 * only `cid:<file key>` into the file's download link (Format::viewableImages); an image left pointing
 * at the Content-ID shows broken there.
 */
export function rewriteContentIds(body: string, files: PreparedFiles): string {
  let out = body;
  for (const { contentId, key } of files.contentIds) {
    const cid = contentId.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    out = out.replace(new RegExp(`src=("|'|\\b)(?:cid:)?${cid}\\1`, "gi"), `src="cid:${key}"`);
  }
  return out;
}
