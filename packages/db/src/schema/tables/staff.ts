// Table descriptions of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import type { TableDef } from "../types.ts";

export const staffTable: TableDef = {
  name: "ost_staff",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "staff_id", type: "int(11) unsigned", autoIncrement: true },
    { name: "dept_id", type: "int(10) unsigned", default: 0 },
    { name: "role_id", type: "int(10) unsigned", default: 0 },
    { name: "username", type: "varchar(32)", default: "" },
    { name: "firstname", type: "varchar(32)", nullable: true, default: null },
    { name: "lastname", type: "varchar(32)", nullable: true, default: null },
    { name: "passwd", type: "varchar(128)", nullable: true, default: null },
    { name: "backend", type: "varchar(32)", nullable: true, default: null },
    { name: "email", type: "varchar(255)", nullable: true, default: null },
    { name: "phone", type: "varchar(24)", default: "" },
    { name: "phone_ext", type: "varchar(6)", nullable: true, default: null },
    { name: "mobile", type: "varchar(24)", default: "" },
    { name: "signature", type: "text" },
    { name: "lang", type: "varchar(16)", nullable: true, default: null },
    { name: "timezone", type: "varchar(64)", nullable: true, default: null },
    { name: "locale", type: "varchar(16)", nullable: true, default: null },
    { name: "notes", type: "text", nullable: true, default: null },
    { name: "isactive", type: "tinyint(1)", default: 1 },
    { name: "isadmin", type: "tinyint(1)", default: 0 },
    { name: "isvisible", type: "tinyint(1) unsigned", default: 1 },
    { name: "onvacation", type: "tinyint(1) unsigned", default: 0 },
    { name: "assigned_only", type: "tinyint(1) unsigned", default: 0 },
    { name: "show_assigned_tickets", type: "tinyint(1) unsigned", default: 0 },
    { name: "change_passwd", type: "tinyint(1) unsigned", default: 0 },
    { name: "max_page_size", type: "int(11) unsigned", default: 0 },
    { name: "auto_refresh_rate", type: "int(10) unsigned", default: 0 },
    { name: "default_signature_type", type: "enum('none','mine','dept')", default: "none" },
    { name: "default_paper_size", type: "enum('Letter','Legal','Ledger','A4','A3')", default: "Letter" },
    { name: "extra", type: "text", nullable: true, default: null },
    { name: "permissions", type: "text", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "lastlogin", type: "datetime", nullable: true, default: null },
    { name: "passwdreset", type: "datetime", nullable: true, default: null },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["staff_id"] },
    { name: "username", kind: "unique", columns: ["username"] },
    { name: "dept_id", kind: "index", columns: ["dept_id"] },
    { name: "issuperuser", kind: "index", columns: ["isadmin"] },
    { name: "isactive", kind: "index", columns: ["isactive"] },
    { name: "onvacation", kind: "index", columns: ["onvacation"] },
  ],
  origin: "install",
};

export const staffDeptAccessTable: TableDef = {
  name: "ost_staff_dept_access",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "staff_id", type: "int(10) unsigned", default: 0 },
    { name: "dept_id", type: "int(10) unsigned", default: 0 },
    { name: "role_id", type: "int(10) unsigned", default: 0 },
    { name: "flags", type: "int(10) unsigned", default: 1 },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["staff_id", "dept_id"] },
    { name: "dept_id", kind: "index", columns: ["dept_id"] },
  ],
  origin: "install",
};

export const departmentTable: TableDef = {
  name: "ost_department",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "pid", type: "int(11) unsigned", nullable: true, default: null },
    { name: "tpl_id", type: "int(10) unsigned", default: 0 },
    { name: "sla_id", type: "int(10) unsigned", default: 0 },
    { name: "schedule_id", type: "int(10) unsigned", default: 0 },
    { name: "email_id", type: "int(10) unsigned", default: 0 },
    { name: "autoresp_email_id", type: "int(10) unsigned", default: 0 },
    { name: "manager_id", type: "int(10) unsigned", default: 0 },
    { name: "flags", type: "int(10) unsigned", default: 0 },
    { name: "name", type: "varchar(128)", default: "" },
    { name: "signature", type: "text" },
    { name: "ispublic", type: "tinyint(1) unsigned", default: 1 },
    { name: "group_membership", type: "tinyint(1)", default: 0 },
    { name: "ticket_auto_response", type: "tinyint(1)", default: 1 },
    { name: "message_auto_response", type: "tinyint(1)", default: 0 },
    { name: "path", type: "varchar(128)", default: "/" },
    { name: "updated", type: "datetime" },
    { name: "created", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "name", kind: "unique", columns: ["name", "pid"] },
    { name: "manager_id", kind: "index", columns: ["manager_id"] },
    { name: "autoresp_email_id", kind: "index", columns: ["autoresp_email_id"] },
    { name: "tpl_id", kind: "index", columns: ["tpl_id"] },
    { name: "flags", kind: "index", columns: ["flags"] },
  ],
  origin: "install",
};

export const teamTable: TableDef = {
  name: "ost_team",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "team_id", type: "int(10) unsigned", autoIncrement: true },
    { name: "lead_id", type: "int(10) unsigned", default: 0 },
    { name: "flags", type: "int(10) unsigned", default: 1 },
    { name: "name", type: "varchar(125)", default: "" },
    { name: "notes", type: "text", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["team_id"] },
    { name: "name", kind: "unique", columns: ["name"] },
    { name: "lead_id", kind: "index", columns: ["lead_id"] },
  ],
  origin: "install",
};

export const teamMemberTable: TableDef = {
  name: "ost_team_member",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "team_id", type: "int(10) unsigned", default: 0 },
    { name: "staff_id", type: "int(10) unsigned" },
    { name: "flags", type: "int(10) unsigned", default: 0 },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["team_id", "staff_id"] },
    { name: "staff_id", kind: "index", columns: ["staff_id"] },
  ],
  origin: "install",
};

export const roleTable: TableDef = {
  name: "ost_role",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "flags", type: "int(10) unsigned", default: 1 },
    { name: "name", type: "varchar(64)", nullable: true, default: null },
    { name: "permissions", type: "text", nullable: true, default: null },
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

export const groupTable: TableDef = {
  name: "ost_group",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(10) unsigned", autoIncrement: true },
    { name: "role_id", type: "int(11) unsigned" },
    { name: "flags", type: "int(11) unsigned", default: 1 },
    { name: "name", type: "varchar(120)", default: "" },
    { name: "notes", type: "text", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "role_id", kind: "index", columns: ["role_id"] },
  ],
  origin: "install",
};

export const sessionTable: TableDef = {
  name: "ost_session",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_unicode_ci",
  columns: [
    {
      name: "session_id",
      type: "varchar(255)",
      default: "",
      charset: "ascii",
      collation: "ascii_general_ci",
    },
    { name: "session_data", type: "blob", nullable: true, default: null },
    { name: "session_expire", type: "datetime", nullable: true, default: null },
    { name: "session_updated", type: "datetime", nullable: true, default: null },
    { name: "user_id", type: "varchar(16)", default: "0", comment: "osTicket staff/client ID" },
    { name: "user_ip", type: "varchar(64)" },
    { name: "user_agent", type: "varchar(255)" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["session_id"] },
    { name: "updated", kind: "index", columns: ["session_updated"] },
    { name: "user_id", kind: "index", columns: ["user_id"] },
  ],
  origin: "install",
};
