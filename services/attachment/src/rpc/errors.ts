import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { IdempotencyConflictError } from "@ostmesh/db";
import { ValidationErrorsSchema } from "@ostmesh/proto/gen/osticket/common/v1/errors_pb.js";
import { DownloadLinkError, ExpiredDownloadLinkError } from "../links/index.ts";
import {
  AttachmentConflictError,
  CorruptFileError,
  FileNotFoundError,
  FileTooLargeError,
  FileTypeMismatchError,
  FileTypeNotAllowedError,
  InvalidArgumentError,
  InvalidFileTypeError,
  InvalidRangeError,
  StorageError,
  ThreadEntryNotFoundError,
  UnsupportedBackendError,
} from "../storage/index.ts";

/** Request field paths the errors of one RPC refer to. */
export interface ErrorFields {
  /** The bytes ("data", or "chunk" in a stream). */
  data: string;
  /** The file name ("name", "metadata.name"). */
  name: string;
  /** The declared type ("type", "metadata.type"). */
  type: string;
}

export const UNARY_FIELDS: ErrorFields = { data: "data", name: "name", type: "type" };
export const STREAM_FIELDS: ErrorFields = { data: "chunk", name: "metadata.name", type: "metadata.type" };

/** INVALID_ARGUMENT naming the request field, with the field in a ValidationErrors detail. */
export function invalidArgument(field: string, message: string, legacyText = ""): ConnectError {
  return withViolation(`${field}: ${message}`, Code.InvalidArgument, field, legacyText || message);
}

function withViolation(message: string, code: Code, field: string, description: string): ConnectError {
  return new ConnectError(message, code, undefined, [
    {
      desc: ValidationErrorsSchema,
      value: create(ValidationErrorsSchema, { violations: [{ field, description }] }),
    },
  ]);
}

/**
 * The Connect error a failure of the storage core, a download link or an idempotency record stands for.
 * Upload refusals carry osTicket's own wording ("File size is too large", "File type is not allowed") as
 * the ValidationErrors description, which the ticket service posts in its "File Import Error" note.
 * Anything else is returned unchanged (the error-mapping interceptor turns it into INTERNAL).
 */
export function toConnectError(error: unknown, fields: ErrorFields = UNARY_FIELDS): unknown {
  if (error instanceof ConnectError) return error;
  if (error instanceof DownloadLinkError) {
    return new ConnectError(
      error instanceof ExpiredDownloadLinkError
        ? "the download link has expired"
        : "the download link is not valid",
      Code.PermissionDenied,
    );
  }
  if (error instanceof IdempotencyConflictError) {
    return new ConnectError(
      "idempotency_key was already used with a different request",
      Code.FailedPrecondition,
    );
  }
  if (!(error instanceof StorageError)) return error;
  if (error instanceof FileNotFoundError) return new ConnectError("file not found", Code.NotFound);
  if (error instanceof ThreadEntryNotFoundError)
    return new ConnectError(`thread entry ${error.entryId} not found`, Code.NotFound);
  if (error instanceof FileTooLargeError) {
    return withViolation(
      `${fields.data}: the file is larger than the limit of ${error.maxBytes} bytes`,
      Code.ResourceExhausted,
      fields.data,
      error.osTicketMessage,
    );
  }
  if (error instanceof FileTypeNotAllowedError)
    return invalidArgument(fields.name, error.message, error.osTicketMessage);
  if (error instanceof FileTypeMismatchError)
    return invalidArgument(fields.type, error.message, error.osTicketMessage);
  if (error instanceof InvalidFileTypeError)
    return invalidArgument(fields.type, error.message, error.osTicketMessage);
  if (error instanceof UnsupportedBackendError)
    return new ConnectError(error.message, Code.FailedPrecondition);
  if (error instanceof AttachmentConflictError)
    return new ConnectError(error.message, Code.FailedPrecondition);
  if (error instanceof CorruptFileError) return new ConnectError(error.message, Code.DataLoss);
  if (error instanceof InvalidRangeError) return new ConnectError(error.message, Code.OutOfRange);
  if (error instanceof InvalidArgumentError) return new ConnectError(error.message, Code.InvalidArgument);
  return error;
}
