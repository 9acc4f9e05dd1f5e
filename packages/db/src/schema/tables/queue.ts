// Table descriptions of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import type { TableDef } from "../types.ts";

export const queueTable: TableDef = {
  name: "ost_queue",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "parent_id", type: "int(11) unsigned", default: 0 },
    { name: "columns_id", type: "int(11) unsigned", nullable: true, default: null },
    { name: "sort_id", type: "int(11) unsigned", nullable: true, default: null },
    { name: "flags", type: "int(11) unsigned", default: 0 },
    { name: "staff_id", type: "int(11) unsigned", default: 0 },
    { name: "sort", type: "int(11) unsigned", default: 0 },
    { name: "title", type: "varchar(60)", nullable: true, default: null },
    { name: "config", type: "text", nullable: true, default: null },
    { name: "filter", type: "varchar(64)", nullable: true, default: null },
    { name: "root", type: "varchar(32)", nullable: true, default: null },
    { name: "path", type: "varchar(80)", default: "/" },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "staff_id", kind: "index", columns: ["staff_id"] },
    { name: "parent_id", kind: "index", columns: ["parent_id"] },
  ],
  origin: "install",
};

export const queueColumnTable: TableDef = {
  name: "ost_queue_column",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "flags", type: "int(10) unsigned", default: 0 },
    { name: "name", type: "varchar(64)", default: "" },
    { name: "primary", type: "varchar(64)", default: "" },
    { name: "secondary", type: "varchar(64)", nullable: true, default: null },
    { name: "filter", type: "varchar(32)", nullable: true, default: null },
    { name: "truncate", type: "varchar(16)", nullable: true, default: null },
    { name: "annotations", type: "text", nullable: true, default: null },
    { name: "conditions", type: "text", nullable: true, default: null },
    { name: "extra", type: "text", nullable: true, default: null },
  ],
  indexes: [{ name: "PRIMARY", kind: "primary", columns: ["id"] }],
  origin: "install",
};

export const queueColumnsTable: TableDef = {
  name: "ost_queue_columns",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "queue_id", type: "int(11) unsigned" },
    { name: "column_id", type: "int(11) unsigned" },
    { name: "staff_id", type: "int(11) unsigned" },
    { name: "bits", type: "int(10) unsigned", default: 0 },
    { name: "sort", type: "int(10) unsigned", default: 1 },
    { name: "heading", type: "varchar(64)", nullable: true, default: null },
    { name: "width", type: "int(10) unsigned", default: 100 },
  ],
  indexes: [{ name: "PRIMARY", kind: "primary", columns: ["queue_id", "column_id", "staff_id"] }],
  origin: "install",
};

export const queueConfigTable: TableDef = {
  name: "ost_queue_config",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "queue_id", type: "int(11) unsigned" },
    { name: "staff_id", type: "int(11) unsigned" },
    { name: "setting", type: "text", nullable: true, default: null },
    { name: "updated", type: "datetime" },
  ],
  indexes: [{ name: "PRIMARY", kind: "primary", columns: ["queue_id", "staff_id"] }],
  origin: "install",
};

export const queueExportTable: TableDef = {
  name: "ost_queue_export",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "queue_id", type: "int(11) unsigned" },
    { name: "path", type: "varchar(64)", default: "" },
    { name: "heading", type: "varchar(64)", nullable: true, default: null },
    { name: "sort", type: "int(10) unsigned", default: 1 },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "queue_id", kind: "index", columns: ["queue_id"] },
  ],
  origin: "install",
};

export const queueSortTable: TableDef = {
  name: "ost_queue_sort",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "root", type: "varchar(32)", nullable: true, default: null },
    { name: "name", type: "varchar(64)", default: "" },
    { name: "columns", type: "text", nullable: true, default: null },
    { name: "updated", type: "datetime", nullable: true, default: null },
  ],
  indexes: [{ name: "PRIMARY", kind: "primary", columns: ["id"] }],
  origin: "install",
};

export const queueSortsTable: TableDef = {
  name: "ost_queue_sorts",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "queue_id", type: "int(11) unsigned" },
    { name: "sort_id", type: "int(11) unsigned" },
    { name: "bits", type: "int(11) unsigned", default: 0 },
    { name: "sort", type: "int(10) unsigned", default: 0 },
  ],
  indexes: [{ name: "PRIMARY", kind: "primary", columns: ["queue_id", "sort_id"] }],
  origin: "install",
};
