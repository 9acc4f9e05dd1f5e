// MikroORM entities of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { DbDateTime } from "../types.ts";

/** `ost_file` */
export const AttachmentFile = defineEntity({
  name: "AttachmentFile",
  tableName: "ost_file",
  properties: {
    id: p.integer().unsigned(false).primary().autoincrement(),
    ft: p.character().length(1).default("T"),
    bk: p.character().length(1).default("D"),
    type: p.string().length(255).default("").collation("ascii_general_ci"),
    size: p.bigint("number").unsigned().defaultRaw("0"),
    key: p.string().length(86).collation("ascii_general_ci"),
    signature: p.string().length(86).collation("ascii_bin"),
    name: p.string().length(255).default(""),
    attrs: p.string().length(255).nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [
    { name: "ft", properties: ["ft"] },
    { name: "key", properties: ["key"] },
    { name: "signature", properties: ["signature"] },
    { name: "type", properties: ["type"] },
    { name: "created", properties: ["created"] },
    { name: "size", properties: ["size"] },
  ],
});
export type AttachmentFile = InferEntity<typeof AttachmentFile>;

/** `ost_file_chunk` */
export const FileChunk = defineEntity({
  name: "FileChunk",
  tableName: "ost_file_chunk",
  properties: {
    fileId: p.integer().unsigned(false).name("file_id").primary(),
    chunkId: p.integer().unsigned(false).name("chunk_id").primary(),
    filedata: p.blob().columnType("longblob"),
  },
});
export type FileChunk = InferEntity<typeof FileChunk>;

/** `ost_attachment` */
export const Attachment = defineEntity({
  name: "Attachment",
  tableName: "ost_attachment",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    objectId: p.integer().unsigned().name("object_id"),
    type: p.character().length(1),
    fileId: p.integer().unsigned().name("file_id"),
    name: p.string().length(255).nullable(),
    inline: p.tinyint().unsigned().default(0),
    lang: p.string().length(16).nullable(),
  },
  uniques: [
    { name: "file-type", properties: ["objectId", "fileId", "type"] },
    { name: "file_object", properties: ["fileId", "objectId"] },
  ],
});
export type Attachment = InferEntity<typeof Attachment>;
