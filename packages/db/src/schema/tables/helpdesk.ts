// Table descriptions of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import type { TableDef } from "../types.ts";

export const helpTopicTable: TableDef = {
  name: "ost_help_topic",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "topic_id", type: "int(11) unsigned", autoIncrement: true },
    { name: "topic_pid", type: "int(10) unsigned", default: 0 },
    { name: "ispublic", type: "tinyint(1) unsigned", default: 1 },
    { name: "noautoresp", type: "tinyint(3) unsigned", default: 0 },
    { name: "flags", type: "int(10) unsigned", nullable: true, default: 0 },
    { name: "status_id", type: "int(10) unsigned", default: 0 },
    { name: "priority_id", type: "int(10) unsigned", default: 0 },
    { name: "dept_id", type: "int(10) unsigned", default: 0 },
    { name: "staff_id", type: "int(10) unsigned", default: 0 },
    { name: "team_id", type: "int(10) unsigned", default: 0 },
    { name: "sla_id", type: "int(10) unsigned", default: 0 },
    { name: "page_id", type: "int(10) unsigned", default: 0 },
    { name: "sequence_id", type: "int(10) unsigned", default: 0 },
    { name: "sort", type: "int(10) unsigned", default: 0 },
    { name: "topic", type: "varchar(128)", default: "" },
    { name: "number_format", type: "varchar(32)", nullable: true, default: null },
    { name: "notes", type: "text", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["topic_id"] },
    { name: "topic", kind: "unique", columns: ["topic", "topic_pid"] },
    { name: "topic_pid", kind: "index", columns: ["topic_pid"] },
    { name: "priority_id", kind: "index", columns: ["priority_id"] },
    { name: "dept_id", kind: "index", columns: ["dept_id"] },
    { name: "staff_id", kind: "index", columns: ["staff_id", "team_id"] },
    { name: "sla_id", kind: "index", columns: ["sla_id"] },
    { name: "page_id", kind: "index", columns: ["page_id"] },
  ],
  origin: "install",
};

export const helpTopicFormTable: TableDef = {
  name: "ost_help_topic_form",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "topic_id", type: "int(11) unsigned", default: 0 },
    { name: "form_id", type: "int(10) unsigned", default: 0 },
    { name: "sort", type: "int(10) unsigned", default: 1 },
    { name: "extra", type: "text", nullable: true, default: null },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "topic-form", kind: "index", columns: ["topic_id", "form_id"] },
  ],
  origin: "install",
};

export const slaTable: TableDef = {
  name: "ost_sla",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "schedule_id", type: "int(10) unsigned", default: 0 },
    { name: "flags", type: "int(10) unsigned", default: 3 },
    { name: "grace_period", type: "int(10) unsigned", default: 0 },
    { name: "name", type: "varchar(64)", default: "" },
    { name: "notes", type: "text", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "name", kind: "unique", columns: ["name"] },
  ],
  origin: "install",
};

export const scheduleTable: TableDef = {
  name: "ost_schedule",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "flags", type: "int(11) unsigned", default: 0 },
    { name: "name", type: "varchar(255)" },
    { name: "timezone", type: "varchar(64)", nullable: true, default: null },
    { name: "description", type: "varchar(255)" },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [{ name: "PRIMARY", kind: "primary", columns: ["id"] }],
  origin: "install",
};

export const scheduleEntryTable: TableDef = {
  name: "ost_schedule_entry",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "schedule_id", type: "int(11) unsigned", default: 0 },
    { name: "flags", type: "int(11) unsigned", default: 0 },
    { name: "sort", type: "tinyint(3) unsigned", default: 0 },
    { name: "name", type: "varchar(255)" },
    { name: "repeats", type: "varchar(16)", default: "never" },
    { name: "starts_on", type: "date", nullable: true, default: null },
    { name: "starts_at", type: "time", nullable: true, default: null },
    { name: "ends_on", type: "date", nullable: true, default: null },
    { name: "ends_at", type: "time", nullable: true, default: null },
    { name: "stops_on", type: "datetime", nullable: true, default: null },
    { name: "day", type: "tinyint(4)", nullable: true, default: null },
    { name: "week", type: "tinyint(4)", nullable: true, default: null },
    { name: "month", type: "tinyint(4)", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "schedule_id", kind: "index", columns: ["schedule_id"] },
    { name: "repeats", kind: "index", columns: ["repeats"] },
  ],
  origin: "install",
};

export const sequenceTable: TableDef = {
  name: "ost_sequence",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "name", type: "varchar(64)", nullable: true, default: null },
    { name: "flags", type: "int(10) unsigned", nullable: true, default: null },
    { name: "next", type: "bigint(20) unsigned", default: 1 },
    { name: "increment", type: "int(11)", nullable: true, default: 1 },
    { name: "padding", type: "char(1)", nullable: true, default: "0" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [{ name: "PRIMARY", kind: "primary", columns: ["id"] }],
  origin: "install",
};

export const configTable: TableDef = {
  name: "ost_config",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "namespace", type: "varchar(64)" },
    { name: "key", type: "varchar(64)" },
    { name: "value", type: "text" },
    { name: "updated", type: "timestamp", default: { sql: "current_timestamp()" } },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "namespace", kind: "unique", columns: ["namespace", "key"] },
  ],
  origin: "install",
};
