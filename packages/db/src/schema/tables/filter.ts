// Table descriptions of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import type { TableDef } from "../types.ts";

export const filterTable: TableDef = {
  name: "ost_filter",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "execorder", type: "int(10) unsigned", default: 99 },
    { name: "isactive", type: "tinyint(1) unsigned", default: 1 },
    { name: "flags", type: "int(10) unsigned", nullable: true, default: 0 },
    { name: "status", type: "int(11) unsigned", default: 0 },
    { name: "match_all_rules", type: "tinyint(1) unsigned", default: 0 },
    { name: "stop_onmatch", type: "tinyint(1) unsigned", default: 0 },
    { name: "target", type: "enum('Any','Web','Email','API')", default: "Any" },
    { name: "email_id", type: "int(10) unsigned", default: 0 },
    { name: "name", type: "varchar(32)", default: "" },
    { name: "notes", type: "text", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "target", kind: "index", columns: ["target"] },
    { name: "email_id", kind: "index", columns: ["email_id"] },
  ],
  origin: "install",
};

export const filterRuleTable: TableDef = {
  name: "ost_filter_rule",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "filter_id", type: "int(10) unsigned", default: 0 },
    { name: "what", type: "varchar(32)" },
    {
      name: "how",
      type: "enum('equal','not_equal','contains','dn_contain','starts','ends','match','not_match')",
    },
    { name: "val", type: "varchar(255)" },
    { name: "isactive", type: "tinyint(1) unsigned", default: 1 },
    { name: "notes", type: "tinytext" },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "filter", kind: "unique", columns: ["filter_id", "what", "how", "val"] },
    { name: "filter_id", kind: "index", columns: ["filter_id"] },
  ],
  origin: "install",
};

export const filterActionTable: TableDef = {
  name: "ost_filter_action",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "filter_id", type: "int(10) unsigned" },
    { name: "sort", type: "int(10) unsigned", default: 0 },
    { name: "type", type: "varchar(24)" },
    { name: "configuration", type: "text", nullable: true, default: null },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "filter_id", kind: "index", columns: ["filter_id"] },
  ],
  origin: "install",
};
