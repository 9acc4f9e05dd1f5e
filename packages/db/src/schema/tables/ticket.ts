// Table descriptions of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import type { TableDef } from "../types.ts";

export const ticketTable: TableDef = {
  name: "ost_ticket",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "ticket_id", type: "int(11) unsigned", autoIncrement: true },
    { name: "ticket_pid", type: "int(11) unsigned", nullable: true, default: null },
    { name: "number", type: "varchar(20)", nullable: true, default: null },
    { name: "user_id", type: "int(11) unsigned", default: 0 },
    { name: "user_email_id", type: "int(11) unsigned", default: 0 },
    { name: "status_id", type: "int(10) unsigned", default: 0 },
    { name: "dept_id", type: "int(10) unsigned", default: 0 },
    { name: "sla_id", type: "int(10) unsigned", default: 0 },
    { name: "topic_id", type: "int(10) unsigned", default: 0 },
    { name: "staff_id", type: "int(10) unsigned", default: 0 },
    { name: "team_id", type: "int(10) unsigned", default: 0 },
    { name: "email_id", type: "int(11) unsigned", default: 0 },
    { name: "lock_id", type: "int(11) unsigned", default: 0 },
    { name: "flags", type: "int(10) unsigned", default: 0 },
    { name: "sort", type: "int(11) unsigned", default: 0 },
    { name: "ip_address", type: "varchar(64)", default: "" },
    { name: "source", type: "enum('Web','Email','Phone','API','Other')", default: "Other" },
    { name: "source_extra", type: "varchar(40)", nullable: true, default: null },
    { name: "isoverdue", type: "tinyint(1) unsigned", default: 0 },
    { name: "isanswered", type: "tinyint(1) unsigned", default: 0 },
    { name: "duedate", type: "datetime", nullable: true, default: null },
    { name: "est_duedate", type: "datetime", nullable: true, default: null },
    { name: "reopened", type: "datetime", nullable: true, default: null },
    { name: "closed", type: "datetime", nullable: true, default: null },
    { name: "lastupdate", type: "datetime", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["ticket_id"] },
    { name: "user_id", kind: "index", columns: ["user_id"] },
    { name: "dept_id", kind: "index", columns: ["dept_id"] },
    { name: "staff_id", kind: "index", columns: ["staff_id"] },
    { name: "team_id", kind: "index", columns: ["team_id"] },
    { name: "status_id", kind: "index", columns: ["status_id"] },
    { name: "created", kind: "index", columns: ["created"] },
    { name: "closed", kind: "index", columns: ["closed"] },
    { name: "duedate", kind: "index", columns: ["duedate"] },
    { name: "topic_id", kind: "index", columns: ["topic_id"] },
    { name: "sla_id", kind: "index", columns: ["sla_id"] },
    { name: "ticket_pid", kind: "index", columns: ["ticket_pid"] },
  ],
  origin: "install",
};

/** Created (and dropped/rebuilt) by osTicket's PHP at run time. */
export const ticketCdataTable: TableDef = {
  name: "ost_ticket__cdata",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "ticket_id", type: "int(11) unsigned" },
    { name: "subject", type: "mediumtext", nullable: true, default: null },
    { name: "priority", type: "mediumtext", nullable: true, default: null },
  ],
  indexes: [{ name: "PRIMARY", kind: "primary", columns: ["ticket_id"] }],
  origin: "runtime",
};

export const ticketStatusTable: TableDef = {
  name: "ost_ticket_status",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11)", autoIncrement: true },
    { name: "name", type: "varchar(60)", default: "" },
    { name: "state", type: "varchar(16)", nullable: true, default: null },
    { name: "mode", type: "int(11) unsigned", default: 0 },
    { name: "flags", type: "int(11) unsigned", default: 0 },
    { name: "sort", type: "int(11) unsigned", default: 0 },
    { name: "properties", type: "text" },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "name", kind: "unique", columns: ["name"] },
    { name: "state", kind: "index", columns: ["state"] },
  ],
  origin: "install",
};

export const ticketPriorityTable: TableDef = {
  name: "ost_ticket_priority",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "priority_id", type: "tinyint(4)", autoIncrement: true },
    { name: "priority", type: "varchar(60)", default: "" },
    { name: "priority_desc", type: "varchar(30)", default: "" },
    { name: "priority_color", type: "varchar(7)", default: "" },
    { name: "priority_urgency", type: "tinyint(1) unsigned", default: 0 },
    { name: "ispublic", type: "tinyint(1)", default: 1 },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["priority_id"] },
    { name: "priority", kind: "unique", columns: ["priority"] },
    { name: "priority_urgency", kind: "index", columns: ["priority_urgency"] },
    { name: "ispublic", kind: "index", columns: ["ispublic"] },
  ],
  origin: "install",
};

export const lockTable: TableDef = {
  name: "ost_lock",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "lock_id", type: "int(11) unsigned", autoIncrement: true },
    { name: "staff_id", type: "int(10) unsigned", default: 0 },
    { name: "expire", type: "datetime", nullable: true, default: null },
    { name: "code", type: "varchar(20)", nullable: true, default: null },
    { name: "created", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["lock_id"] },
    { name: "staff_id", kind: "index", columns: ["staff_id"] },
  ],
  origin: "install",
};

export const draftTable: TableDef = {
  name: "ost_draft",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "staff_id", type: "int(11) unsigned" },
    { name: "namespace", type: "varchar(32)", default: "" },
    { name: "body", type: "text" },
    { name: "extra", type: "text", nullable: true, default: null },
    { name: "created", type: "timestamp", default: { sql: "current_timestamp()" } },
    { name: "updated", type: "timestamp", nullable: true, default: null },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "staff_id", kind: "index", columns: ["staff_id"] },
    { name: "namespace", kind: "index", columns: ["namespace"] },
  ],
  origin: "install",
};

export const taskTable: TableDef = {
  name: "ost_task",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "object_id", type: "int(11)", default: 0 },
    { name: "object_type", type: "char(1)" },
    { name: "number", type: "varchar(20)", nullable: true, default: null },
    { name: "dept_id", type: "int(10) unsigned", default: 0 },
    { name: "staff_id", type: "int(10) unsigned", default: 0 },
    { name: "team_id", type: "int(10) unsigned", default: 0 },
    { name: "lock_id", type: "int(11) unsigned", default: 0 },
    { name: "flags", type: "int(10) unsigned", default: 0 },
    { name: "duedate", type: "datetime", nullable: true, default: null },
    { name: "closed", type: "datetime", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "dept_id", kind: "index", columns: ["dept_id"] },
    { name: "staff_id", kind: "index", columns: ["staff_id"] },
    { name: "team_id", kind: "index", columns: ["team_id"] },
    { name: "created", kind: "index", columns: ["created"] },
    { name: "object", kind: "index", columns: ["object_id", "object_type"] },
    { name: "flags", kind: "index", columns: ["flags"] },
  ],
  origin: "install",
};

/** Created (and dropped/rebuilt) by osTicket's PHP at run time. */
export const taskCdataTable: TableDef = {
  name: "ost_task__cdata",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "task_id", type: "int(11) unsigned" },
    { name: "title", type: "mediumtext", nullable: true, default: null },
  ],
  indexes: [{ name: "PRIMARY", kind: "primary", columns: ["task_id"] }],
  origin: "runtime",
};
