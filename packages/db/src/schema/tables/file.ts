// Table descriptions of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import type { TableDef } from "../types.ts";

export const fileTable: TableDef = {
  name: "ost_file",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11)", autoIncrement: true },
    { name: "ft", type: "char(1)", default: "T" },
    { name: "bk", type: "char(1)", default: "D" },
    { name: "type", type: "varchar(255)", default: "", charset: "ascii", collation: "ascii_general_ci" },
    { name: "size", type: "bigint(20) unsigned", default: 0 },
    { name: "key", type: "varchar(86)", charset: "ascii", collation: "ascii_general_ci" },
    { name: "signature", type: "varchar(86)", charset: "ascii", collation: "ascii_bin" },
    { name: "name", type: "varchar(255)", default: "" },
    { name: "attrs", type: "varchar(255)", nullable: true, default: null },
    { name: "created", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "ft", kind: "index", columns: ["ft"] },
    { name: "key", kind: "index", columns: ["key"] },
    { name: "signature", kind: "index", columns: ["signature"] },
    { name: "type", kind: "index", columns: ["type"] },
    { name: "created", kind: "index", columns: ["created"] },
    { name: "size", kind: "index", columns: ["size"] },
  ],
  origin: "install",
};

export const fileChunkTable: TableDef = {
  name: "ost_file_chunk",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "file_id", type: "int(11)" },
    { name: "chunk_id", type: "int(11)" },
    { name: "filedata", type: "longblob" },
  ],
  indexes: [{ name: "PRIMARY", kind: "primary", columns: ["file_id", "chunk_id"] }],
  origin: "install",
};

export const attachmentTable: TableDef = {
  name: "ost_attachment",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(10) unsigned", autoIncrement: true },
    { name: "object_id", type: "int(11) unsigned" },
    { name: "type", type: "char(1)" },
    { name: "file_id", type: "int(11) unsigned" },
    { name: "name", type: "varchar(255)", nullable: true, default: null },
    { name: "inline", type: "tinyint(1) unsigned", default: 0 },
    { name: "lang", type: "varchar(16)", nullable: true, default: null },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "file-type", kind: "unique", columns: ["object_id", "file_id", "type"] },
    { name: "file_object", kind: "unique", columns: ["file_id", "object_id"] },
  ],
  origin: "install",
};
