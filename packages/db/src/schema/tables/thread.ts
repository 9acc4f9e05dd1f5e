// Table descriptions of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import type { TableDef } from "../types.ts";

export const threadTable: TableDef = {
  name: "ost_thread",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "object_id", type: "int(11) unsigned" },
    { name: "object_type", type: "char(1)" },
    { name: "extra", type: "text", nullable: true, default: null },
    { name: "lastresponse", type: "datetime", nullable: true, default: null },
    { name: "lastmessage", type: "datetime", nullable: true, default: null },
    { name: "created", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "object_id", kind: "index", columns: ["object_id"] },
    { name: "object_type", kind: "index", columns: ["object_type"] },
  ],
  origin: "install",
};

export const threadEntryTable: TableDef = {
  name: "ost_thread_entry",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "pid", type: "int(11) unsigned", default: 0 },
    { name: "thread_id", type: "int(11) unsigned", default: 0 },
    { name: "staff_id", type: "int(11) unsigned", default: 0 },
    { name: "user_id", type: "int(11) unsigned", default: 0 },
    { name: "type", type: "char(1)", default: "" },
    { name: "flags", type: "int(11) unsigned", default: 0 },
    { name: "poster", type: "varchar(128)", default: "" },
    { name: "editor", type: "int(10) unsigned", nullable: true, default: null },
    { name: "editor_type", type: "char(1)", nullable: true, default: null },
    { name: "source", type: "varchar(32)", default: "" },
    { name: "title", type: "varchar(255)", nullable: true, default: null },
    { name: "body", type: "text" },
    { name: "format", type: "varchar(16)", default: "html" },
    { name: "ip_address", type: "varchar(64)", default: "" },
    { name: "extra", type: "text", nullable: true, default: null },
    { name: "recipients", type: "text", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "pid", kind: "index", columns: ["pid"] },
    { name: "thread_id", kind: "index", columns: ["thread_id"] },
    { name: "staff_id", kind: "index", columns: ["staff_id"] },
    { name: "type", kind: "index", columns: ["type"] },
  ],
  origin: "install",
};

export const threadEntryEmailTable: TableDef = {
  name: "ost_thread_entry_email",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "thread_entry_id", type: "int(11) unsigned" },
    { name: "email_id", type: "int(11) unsigned", nullable: true, default: null },
    { name: "mid", type: "varchar(255)" },
    { name: "headers", type: "text", nullable: true, default: null },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "thread_entry_id", kind: "index", columns: ["thread_entry_id"] },
    { name: "mid", kind: "index", columns: ["mid"] },
    { name: "email_id", kind: "index", columns: ["email_id"] },
  ],
  origin: "install",
};

export const threadEntryMergeTable: TableDef = {
  name: "ost_thread_entry_merge",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "thread_entry_id", type: "int(11) unsigned" },
    { name: "data", type: "text", nullable: true, default: null },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "thread_entry_id", kind: "index", columns: ["thread_entry_id"] },
  ],
  origin: "install",
};

export const threadEventTable: TableDef = {
  name: "ost_thread_event",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(10) unsigned", autoIncrement: true },
    { name: "thread_id", type: "int(11) unsigned", default: 0 },
    { name: "thread_type", type: "char(1)", default: "" },
    { name: "event_id", type: "int(11) unsigned", nullable: true, default: null },
    { name: "staff_id", type: "int(11) unsigned" },
    { name: "team_id", type: "int(11) unsigned" },
    { name: "dept_id", type: "int(11) unsigned" },
    { name: "topic_id", type: "int(11) unsigned" },
    { name: "data", type: "varchar(1024)", nullable: true, default: null, comment: "Encoded differences" },
    { name: "username", type: "varchar(128)", default: "SYSTEM" },
    { name: "uid", type: "int(11) unsigned", nullable: true, default: null },
    { name: "uid_type", type: "char(1)", default: "S" },
    { name: "annulled", type: "tinyint(1) unsigned", default: 0 },
    { name: "timestamp", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "ticket_state", kind: "index", columns: ["thread_id", "event_id", "timestamp"] },
    { name: "ticket_stats", kind: "index", columns: ["timestamp", "event_id"] },
  ],
  origin: "install",
};

export const threadCollaboratorTable: TableDef = {
  name: "ost_thread_collaborator",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "flags", type: "int(10) unsigned", default: 1 },
    { name: "thread_id", type: "int(11) unsigned", default: 0 },
    { name: "user_id", type: "int(11) unsigned", default: 0 },
    { name: "role", type: "char(1)", default: "M" },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "collab", kind: "unique", columns: ["thread_id", "user_id"] },
    { name: "user_id", kind: "index", columns: ["user_id"] },
  ],
  origin: "install",
};

export const threadReferralTable: TableDef = {
  name: "ost_thread_referral",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(10) unsigned", autoIncrement: true },
    { name: "thread_id", type: "int(11) unsigned" },
    { name: "object_id", type: "int(11) unsigned" },
    { name: "object_type", type: "char(1)" },
    { name: "created", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "ref", kind: "unique", columns: ["object_id", "object_type", "thread_id"] },
    { name: "thread_id", kind: "index", columns: ["thread_id"] },
  ],
  origin: "install",
};

export const eventTable: TableDef = {
  name: "ost_event",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(10) unsigned", autoIncrement: true },
    { name: "name", type: "varchar(60)" },
    { name: "description", type: "varchar(60)", nullable: true, default: null },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "name", kind: "unique", columns: ["name"] },
  ],
  origin: "install",
};

export const noteTable: TableDef = {
  name: "ost_note",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "pid", type: "int(11) unsigned", nullable: true, default: null },
    { name: "staff_id", type: "int(11) unsigned", default: 0 },
    { name: "ext_id", type: "varchar(10)", nullable: true, default: null },
    { name: "body", type: "text", nullable: true, default: null },
    { name: "status", type: "int(11) unsigned", default: 0 },
    { name: "sort", type: "int(11) unsigned", default: 0 },
    { name: "created", type: "timestamp", default: "0000-00-00 00:00:00" },
    { name: "updated", type: "timestamp", default: "0000-00-00 00:00:00", onUpdate: "current_timestamp()" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "ext_id", kind: "index", columns: ["ext_id"] },
  ],
  origin: "install",
};
