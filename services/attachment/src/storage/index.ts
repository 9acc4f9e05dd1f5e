/**
 * The attachment storage core: files in osTicket's own tables (`ost_file`, `ost_file_chunk`,
 * `ost_attachment`), written and read the way osTicket 1.18 does. Every function takes the caller's
 * MikroORM EntityManager and runs inside its transaction when it has one.
 *
 * - storeFile: stream a file in (limits, type checks, dedupe) → StoredFile
 * - readFile / openFileContent: metadata + chunk and byte-range readers; measureContent: the length a
 *   download serves; getFileInfo, getFileInfoByKey
 * - attachToEntry, listEntryAttachments, listAttachmentsOfEntries, listTicketAttachments, listAttachmentsPage
 * - purgeOrphanFiles: osTicket's cron rule for unattached files (and their uploaders)
 * - recordUploader: who uploaded a file (ostmesh_upload), which decides who may link it while unattached
 * - getMaxFileSize, getMessageFieldAttachmentPolicy, isFileTypeAllowed: osTicket's upload limits
 * - StorageError subclasses, each with a `code` and osTicket's wording in `osTicketMessage`
 */
export {
  type AttachmentPage,
  type AttachmentPageOptions,
  type AttachmentTarget,
  type AttachToEntryInput,
  attachToEntry,
  type EntryAttachment,
  listAttachmentsOfEntries,
  listAttachmentsPage,
  listEntryAttachments,
  listTicketAttachments,
  type TicketAttachment,
} from "./attach.ts";
export * from "./errors.ts";
export { fileExtension, MAX_FILE_NAME_LENGTH, sanitizeFileName } from "./filename.ts";
export {
  CHUNK_SIZE,
  type ContentLength,
  type FileContent,
  type FileInfo,
  findFile,
  getFileInfo,
  getFileInfoByExactKey,
  getFileInfoByKey,
  measureContent,
  openFileContent,
  type ReadOptions,
  readFile,
} from "./files.ts";
export { type FileTypeCategory, OSTICKET_FILE_TYPE_CATEGORIES } from "./filetypes.ts";
export {
  ContentHasher,
  digestOf,
  type FileDigest,
  fileKey,
  fileSignature,
  urlSafeBase64,
} from "./identity.ts";
export {
  type AttachmentPolicy,
  type FileTypeRule,
  getMaxFileSize,
  getMessageFieldAttachmentPolicy,
  getUploadSettings,
  isFileTypeAllowed,
  policyFromFieldConfiguration,
  type UploadSettings,
} from "./limits.ts";
export { ORPHAN_MIN_AGE_SECONDS, type PurgeOrphanFilesOptions, purgeOrphanFiles } from "./purge.ts";
export { type DeclaredType, type DetectedType, detectType, parseDeclaredType } from "./sniff.ts";
export type { Db } from "./sql.ts";
export {
  type FilePurpose,
  type FileSource,
  type StoredFile,
  type StoreFileInput,
  storeFile,
} from "./store.ts";
export { recordUploader, type UploaderRecord } from "./uploads.ts";
