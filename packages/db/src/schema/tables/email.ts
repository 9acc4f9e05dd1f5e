// Table descriptions of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import type { TableDef } from "../types.ts";

export const emailTable: TableDef = {
  name: "ost_email",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "email_id", type: "int(11) unsigned", autoIncrement: true },
    { name: "noautoresp", type: "tinyint(1) unsigned", default: 0 },
    { name: "priority_id", type: "int(11) unsigned", default: 2 },
    { name: "dept_id", type: "int(11) unsigned", default: 0 },
    { name: "topic_id", type: "int(11) unsigned", default: 0 },
    { name: "email", type: "varchar(255)", default: "" },
    { name: "name", type: "varchar(255)", default: "" },
    { name: "notes", type: "text", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["email_id"] },
    { name: "email", kind: "unique", columns: ["email"] },
    { name: "priority_id", kind: "index", columns: ["priority_id"] },
    { name: "dept_id", kind: "index", columns: ["dept_id"] },
  ],
  origin: "install",
};

export const emailAccountTable: TableDef = {
  name: "ost_email_account",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "email_id", type: "int(11) unsigned" },
    { name: "type", type: "enum('mailbox','smtp')", default: "mailbox" },
    { name: "auth_bk", type: "varchar(128)" },
    { name: "auth_id", type: "varchar(16)", nullable: true, default: null },
    { name: "active", type: "tinyint(1) unsigned", default: 0 },
    { name: "host", type: "varchar(128)", default: "" },
    { name: "port", type: "int(11)" },
    { name: "folder", type: "varchar(255)", nullable: true, default: null },
    { name: "protocol", type: "enum('IMAP','POP','SMTP','OTHER')", default: "OTHER" },
    { name: "encryption", type: "enum('NONE','AUTO','SSL')", default: "AUTO" },
    { name: "fetchfreq", type: "tinyint(3) unsigned", default: 5 },
    { name: "fetchmax", type: "tinyint(4) unsigned", nullable: true, default: 30 },
    { name: "postfetch", type: "enum('archive','delete','nothing')", default: "nothing" },
    { name: "archivefolder", type: "varchar(255)", nullable: true, default: null },
    { name: "allow_spoofing", type: "tinyint(1) unsigned", nullable: true, default: 0 },
    { name: "num_errors", type: "int(11) unsigned", default: 0 },
    { name: "last_error_msg", type: "tinytext", nullable: true, default: null },
    { name: "last_error", type: "datetime", nullable: true, default: null },
    { name: "last_activity", type: "datetime", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime", default: "0000-00-00 00:00:00" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "email_id", kind: "index", columns: ["email_id"] },
    { name: "type", kind: "index", columns: ["type"] },
  ],
  origin: "install",
};

export const emailTemplateTable: TableDef = {
  name: "ost_email_template",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "tpl_id", type: "int(11) unsigned" },
    { name: "code_name", type: "varchar(32)" },
    { name: "subject", type: "varchar(255)", default: "" },
    { name: "body", type: "text" },
    { name: "notes", type: "text", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "template_lookup", kind: "unique", columns: ["tpl_id", "code_name"] },
  ],
  origin: "install",
};

export const emailTemplateGroupTable: TableDef = {
  name: "ost_email_template_group",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "tpl_id", type: "int(11)", autoIncrement: true },
    { name: "isactive", type: "tinyint(1) unsigned", default: 0 },
    { name: "name", type: "varchar(32)", default: "" },
    { name: "lang", type: "varchar(16)", default: "en_US" },
    { name: "notes", type: "text", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "updated", type: "timestamp" },
  ],
  indexes: [{ name: "PRIMARY", kind: "primary", columns: ["tpl_id"] }],
  origin: "install",
};

export const cannedResponseTable: TableDef = {
  name: "ost_canned_response",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "canned_id", type: "int(10) unsigned", autoIncrement: true },
    { name: "dept_id", type: "int(10) unsigned", default: 0 },
    { name: "isenabled", type: "tinyint(1) unsigned", default: 1 },
    { name: "title", type: "varchar(255)", default: "" },
    { name: "response", type: "text" },
    { name: "lang", type: "varchar(16)", default: "en_US" },
    { name: "notes", type: "text", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["canned_id"] },
    { name: "title", kind: "unique", columns: ["title"] },
    { name: "dept_id", kind: "index", columns: ["dept_id"] },
    { name: "active", kind: "index", columns: ["isenabled"] },
  ],
  origin: "install",
};

export const contentTable: TableDef = {
  name: "ost_content",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(10) unsigned", autoIncrement: true },
    { name: "isactive", type: "tinyint(1) unsigned", default: 0 },
    { name: "type", type: "varchar(32)", default: "other" },
    { name: "name", type: "varchar(255)" },
    { name: "body", type: "text" },
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
