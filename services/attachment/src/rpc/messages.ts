import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type Attachment,
  AttachmentSchema,
  type FileInfo as FileInfoMessage,
  FileInfoSchema,
} from "@ostmesh/proto/gen/osticket/attachment/v1/attachment_service_pb.js";
import type { EntryAttachment, FileInfo } from "../storage/index.ts";

/** An `ost_file` row as the contract's FileInfo. */
export function fileInfoMessage(info: FileInfo): FileInfoMessage {
  return create(FileInfoSchema, {
    id: info.id,
    name: info.name,
    type: info.type,
    size: BigInt(info.size),
    signature: info.signature,
    key: info.key,
    ...(info.createdAt !== null ? { createdAt: timestampFromMs(info.createdAt * 1000) } : {}),
    backend: info.backend,
    purpose: info.purpose,
  });
}

/** An `ost_attachment` row of a thread entry (type H) as the contract's Attachment. */
export function attachmentMessage(attachment: EntryAttachment): Attachment {
  return create(AttachmentSchema, {
    id: attachment.id,
    objectType: "H",
    objectId: attachment.entryId,
    file: fileInfoMessage(attachment.file),
    name: attachment.displayName,
    inline: attachment.inline,
  });
}
