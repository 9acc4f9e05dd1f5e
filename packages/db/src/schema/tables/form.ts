// Table descriptions of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import type { TableDef } from "../types.ts";

export const formTable: TableDef = {
  name: "ost_form",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "pid", type: "int(10) unsigned", nullable: true, default: null },
    { name: "type", type: "varchar(8)", default: "G" },
    { name: "flags", type: "int(10) unsigned", default: 1 },
    { name: "title", type: "varchar(255)" },
    { name: "instructions", type: "varchar(512)", nullable: true, default: null },
    { name: "name", type: "varchar(64)", default: "" },
    { name: "notes", type: "text", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "type", kind: "index", columns: ["type"] },
  ],
  origin: "install",
};

export const formFieldTable: TableDef = {
  name: "ost_form_field",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "form_id", type: "int(11) unsigned" },
    { name: "flags", type: "int(10) unsigned", nullable: true, default: 1 },
    { name: "type", type: "varchar(255)", default: "text" },
    { name: "label", type: "varchar(255)" },
    { name: "name", type: "varchar(64)" },
    { name: "configuration", type: "text", nullable: true, default: null },
    { name: "sort", type: "int(11) unsigned" },
    { name: "hint", type: "varchar(512)", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "form_id", kind: "index", columns: ["form_id"] },
    { name: "sort", kind: "index", columns: ["sort"] },
  ],
  origin: "install",
};

export const formEntryTable: TableDef = {
  name: "ost_form_entry",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "form_id", type: "int(11) unsigned" },
    { name: "object_id", type: "int(11) unsigned", nullable: true, default: null },
    { name: "object_type", type: "char(1)", default: "T" },
    { name: "sort", type: "int(11) unsigned", default: 1 },
    { name: "extra", type: "text", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "entry_lookup", kind: "index", columns: ["object_type", "object_id"] },
  ],
  origin: "install",
};

export const formEntryValuesTable: TableDef = {
  name: "ost_form_entry_values",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "entry_id", type: "int(11) unsigned" },
    { name: "field_id", type: "int(11) unsigned" },
    { name: "value", type: "text", nullable: true, default: null },
    { name: "value_id", type: "int(11)", nullable: true, default: null },
  ],
  indexes: [{ name: "PRIMARY", kind: "primary", columns: ["entry_id", "field_id"] }],
  origin: "install",
};

export const listTable: TableDef = {
  name: "ost_list",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "name", type: "varchar(255)" },
    { name: "name_plural", type: "varchar(255)", nullable: true, default: null },
    { name: "sort_mode", type: "enum('Alpha','-Alpha','SortCol')", default: "Alpha" },
    { name: "masks", type: "int(11) unsigned", default: 0 },
    { name: "type", type: "varchar(16)", nullable: true, default: null },
    { name: "configuration", type: "text", default: "" },
    { name: "notes", type: "text", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "type", kind: "index", columns: ["type"] },
  ],
  origin: "install",
};

export const listItemsTable: TableDef = {
  name: "ost_list_items",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "list_id", type: "int(11)", nullable: true, default: null },
    { name: "status", type: "int(11) unsigned", default: 1 },
    { name: "value", type: "varchar(255)" },
    { name: "extra", type: "varchar(255)", nullable: true, default: null },
    { name: "sort", type: "int(11)", default: 1 },
    { name: "properties", type: "text", nullable: true, default: null },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "list_item_lookup", kind: "index", columns: ["list_id"] },
  ],
  origin: "install",
};
