/**
 * Typed failures of the storage core. The RPC layer maps `code` to a Connect code; `osTicketMessage` is the
 * text osTicket itself gives for the same failure, for the "File Import Error" note a legacy create posts
 * (`<name>: <error>`, FACTS §2.4).
 */
export type StorageErrorCode =
  | "file_not_found"
  | "thread_entry_not_found"
  | "file_too_large"
  | "file_type_not_allowed"
  | "file_type_mismatch"
  | "invalid_file_type"
  | "invalid_argument"
  | "invalid_range"
  | "unsupported_backend"
  | "attachment_conflict"
  | "corrupt_file";

export abstract class StorageError extends Error {
  abstract readonly code: StorageErrorCode;
  /** osTicket's own wording for this failure. */
  get osTicketMessage(): string {
    return "Unable to save file";
  }
}

export class FileNotFoundError extends StorageError {
  override readonly code = "file_not_found";
  readonly lookup: { id: number } | { key: string };
  constructor(lookup: { id: number } | { key: string }) {
    super("id" in lookup ? `file ${lookup.id} does not exist` : `no file has key ${lookup.key}`);
    this.name = "FileNotFoundError";
    this.lookup = lookup;
  }
}

export class ThreadEntryNotFoundError extends StorageError {
  override readonly code = "thread_entry_not_found";
  readonly entryId: number;
  constructor(entryId: number) {
    super(`thread entry ${entryId} does not exist`);
    this.name = "ThreadEntryNotFoundError";
    this.entryId = entryId;
  }
}

export class FileTooLargeError extends StorageError {
  override readonly code = "file_too_large";
  readonly maxBytes: number;
  constructor(maxBytes: number) {
    super(`file is larger than the limit of ${maxBytes} bytes`);
    this.name = "FileTooLargeError";
    this.maxBytes = maxBytes;
  }
  override get osTicketMessage(): string {
    return "File size is too large";
  }
}

export class FileTypeNotAllowedError extends StorageError {
  override readonly code = "file_type_not_allowed";
  readonly fileName: string;
  readonly type: string;
  constructor(fileName: string, type: string) {
    super(`file type ${type || "(none)"} of ${JSON.stringify(fileName)} is not allowed`);
    this.name = "FileTypeNotAllowedError";
    this.fileName = fileName;
    this.type = type;
  }
  override get osTicketMessage(): string {
    return "File type is not allowed";
  }
}

/** The bytes are of another kind than the declared type says (e.g. a Windows executable sent as image/png). */
export class FileTypeMismatchError extends StorageError {
  override readonly code = "file_type_mismatch";
  readonly declaredType: string;
  readonly detectedType: string;
  constructor(declaredType: string, detectedType: string) {
    super(`declared type ${declaredType} does not match the content, which is ${detectedType}`);
    this.name = "FileTypeMismatchError";
    this.declaredType = declaredType;
    this.detectedType = detectedType;
  }
  override get osTicketMessage(): string {
    return "File type is not allowed";
  }
}

export class InvalidFileTypeError extends StorageError {
  override readonly code = "invalid_file_type";
  readonly declaredType: string;
  constructor(declaredType: string) {
    super(`declared type ${JSON.stringify(declaredType)} is not a MIME type`);
    this.name = "InvalidFileTypeError";
    this.declaredType = declaredType;
  }
}

export class InvalidArgumentError extends StorageError {
  override readonly code = "invalid_argument";
  constructor(message: string) {
    super(message);
    this.name = "InvalidArgumentError";
  }
}

export class InvalidRangeError extends StorageError {
  override readonly code = "invalid_range";
  readonly start: number;
  readonly end: number;
  readonly size: number;
  constructor(start: number, end: number, size: number) {
    super(`range [${start}, ${end}) is not within a file of ${size} bytes`);
    this.name = "InvalidRangeError";
    this.start = start;
    this.end = end;
    this.size = size;
  }
}

/** The file's bytes live in a backend other than the database (`bk` is not `D`). */
export class UnsupportedBackendError extends StorageError {
  override readonly code = "unsupported_backend";
  readonly fileId: number;
  readonly backend: string;
  constructor(fileId: number, backend: string) {
    super(
      `file ${fileId} is stored in backend ${JSON.stringify(backend)}; only database storage (D) is served`,
    );
    this.name = "UnsupportedBackendError";
    this.fileId = fileId;
    this.backend = backend;
  }
}

/**
 * `ost_attachment` has a unique key on (file_id, object_id) without the type: the file is already linked to
 * this object id as another kind of object (e.g. a draft), so it cannot also be linked as a thread entry.
 */
export class AttachmentConflictError extends StorageError {
  override readonly code = "attachment_conflict";
  readonly fileId: number;
  readonly objectId: number;
  constructor(fileId: number, objectId: number) {
    super(`file ${fileId} is already attached to object ${objectId} as another object type`);
    this.name = "AttachmentConflictError";
    this.fileId = fileId;
    this.objectId = objectId;
  }
}

/** The stored chunks do not hold the bytes the file row promises (e.g. fewer bytes than its `size`). */
export class CorruptFileError extends StorageError {
  override readonly code = "corrupt_file";
  readonly fileId: number;
  constructor(fileId: number, detail: string) {
    super(`file ${fileId} is damaged: ${detail}`);
    this.name = "CorruptFileError";
    this.fileId = fileId;
  }
}
