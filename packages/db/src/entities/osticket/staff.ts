// MikroORM entities of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { DbDateTime } from "../types.ts";

/** `ost_staff` */
export const Staff = defineEntity({
  name: "Staff",
  tableName: "ost_staff",
  properties: {
    staffId: p.integer().unsigned().name("staff_id").primary().autoincrement(),
    deptId: p.integer().unsigned().name("dept_id").default(0),
    roleId: p.integer().unsigned().name("role_id").default(0),
    username: p.string().length(32).default(""),
    firstname: p.string().length(32).nullable(),
    lastname: p.string().length(32).nullable(),
    passwd: p.string().length(128).nullable(),
    backend: p.string().length(32).nullable(),
    email: p.string().length(255).nullable(),
    phone: p.string().length(24).default(""),
    phoneExt: p.string().length(6).name("phone_ext").nullable(),
    mobile: p.string().length(24).default(""),
    signature: p.text(),
    lang: p.string().length(16).nullable(),
    timezone: p.string().length(64).nullable(),
    locale: p.string().length(16).nullable(),
    notes: p.text().nullable(),
    isactive: p.tinyint().columnType("tinyint(1)").default(1),
    isadmin: p.tinyint().columnType("tinyint(1)").default(0),
    isvisible: p.tinyint().unsigned().default(1),
    onvacation: p.tinyint().unsigned().default(0),
    assignedOnly: p.tinyint().unsigned().name("assigned_only").default(0),
    showAssignedTickets: p.tinyint().unsigned().name("show_assigned_tickets").default(0),
    changePasswd: p.tinyint().unsigned().name("change_passwd").default(0),
    maxPageSize: p.integer().unsigned().name("max_page_size").default(0),
    autoRefreshRate: p.integer().unsigned().name("auto_refresh_rate").default(0),
    defaultSignatureType: p.enum(["none", "mine", "dept"]).name("default_signature_type").default("none"),
    defaultPaperSize: p
      .enum(["Letter", "Legal", "Ledger", "A4", "A3"])
      .name("default_paper_size")
      .default("Letter"),
    extra: p.text().nullable(),
    permissions: p.text().nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    lastlogin: p.type(DbDateTime).columnType("datetime").nullable(),
    passwdreset: p.type(DbDateTime).columnType("datetime").nullable(),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [
    { name: "dept_id", properties: ["deptId"] },
    { name: "issuperuser", properties: ["isadmin"] },
    { name: "isactive", properties: ["isactive"] },
    { name: "onvacation", properties: ["onvacation"] },
  ],
  uniques: [{ name: "username", properties: ["username"] }],
});
export type Staff = InferEntity<typeof Staff>;

/** `ost_staff_dept_access` */
export const StaffDeptAccess = defineEntity({
  name: "StaffDeptAccess",
  tableName: "ost_staff_dept_access",
  properties: {
    staffId: p.integer().unsigned().name("staff_id").primary().default(0),
    deptId: p.integer().unsigned().name("dept_id").primary().default(0),
    roleId: p.integer().unsigned().name("role_id").default(0),
    flags: p.integer().unsigned().default(1),
  },
  indexes: [{ name: "dept_id", properties: ["deptId"] }],
});
export type StaffDeptAccess = InferEntity<typeof StaffDeptAccess>;

/** `ost_department` */
export const Department = defineEntity({
  name: "Department",
  tableName: "ost_department",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    pid: p.integer().unsigned().nullable(),
    tplId: p.integer().unsigned().name("tpl_id").default(0),
    slaId: p.integer().unsigned().name("sla_id").default(0),
    scheduleId: p.integer().unsigned().name("schedule_id").default(0),
    emailId: p.integer().unsigned().name("email_id").default(0),
    autorespEmailId: p.integer().unsigned().name("autoresp_email_id").default(0),
    managerId: p.integer().unsigned().name("manager_id").default(0),
    flags: p.integer().unsigned().default(0),
    name: p.string().length(128).default(""),
    signature: p.text(),
    ispublic: p.tinyint().unsigned().default(1),
    groupMembership: p.tinyint().columnType("tinyint(1)").name("group_membership").default(0),
    ticketAutoResponse: p.tinyint().columnType("tinyint(1)").name("ticket_auto_response").default(1),
    messageAutoResponse: p.tinyint().columnType("tinyint(1)").name("message_auto_response").default(0),
    path: p.string().length(128).default("/"),
    updated: p.type(DbDateTime).columnType("datetime"),
    created: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [
    { name: "manager_id", properties: ["managerId"] },
    { name: "autoresp_email_id", properties: ["autorespEmailId"] },
    { name: "tpl_id", properties: ["tplId"] },
    { name: "flags", properties: ["flags"] },
  ],
  uniques: [{ name: "name", properties: ["name", "pid"] }],
});
export type Department = InferEntity<typeof Department>;

/** `ost_team` */
export const Team = defineEntity({
  name: "Team",
  tableName: "ost_team",
  properties: {
    teamId: p.integer().unsigned().name("team_id").primary().autoincrement(),
    leadId: p.integer().unsigned().name("lead_id").default(0),
    flags: p.integer().unsigned().default(1),
    name: p.string().length(125).default(""),
    notes: p.text().nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [{ name: "lead_id", properties: ["leadId"] }],
  uniques: [{ name: "name", properties: ["name"] }],
});
export type Team = InferEntity<typeof Team>;

/** `ost_team_member` */
export const TeamMember = defineEntity({
  name: "TeamMember",
  tableName: "ost_team_member",
  properties: {
    teamId: p.integer().unsigned().name("team_id").primary().default(0),
    staffId: p.integer().unsigned().name("staff_id").primary(),
    flags: p.integer().unsigned().default(0),
  },
  indexes: [{ name: "staff_id", properties: ["staffId"] }],
});
export type TeamMember = InferEntity<typeof TeamMember>;

/** `ost_role` */
export const Role = defineEntity({
  name: "Role",
  tableName: "ost_role",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    flags: p.integer().unsigned().default(1),
    name: p.string().length(64).nullable(),
    permissions: p.text().nullable(),
    notes: p.text().nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  uniques: [{ name: "name", properties: ["name"] }],
});
export type Role = InferEntity<typeof Role>;

/** `ost_group` */
export const StaffGroup = defineEntity({
  name: "StaffGroup",
  tableName: "ost_group",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    roleId: p.integer().unsigned().name("role_id"),
    flags: p.integer().unsigned().default(1),
    name: p.string().length(120).default(""),
    notes: p.text().nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [{ name: "role_id", properties: ["roleId"] }],
});
export type StaffGroup = InferEntity<typeof StaffGroup>;

/** `ost_session` */
export const PhpSession = defineEntity({
  name: "PhpSession",
  tableName: "ost_session",
  properties: {
    sessionId: p
      .string()
      .length(255)
      .name("session_id")
      .primary()
      .autoincrement(false)
      .default("")
      .collation("ascii_general_ci"),
    sessionData: p.blob().columnType("blob").name("session_data").nullable(),
    sessionExpire: p.type(DbDateTime).columnType("datetime").name("session_expire").nullable(),
    sessionUpdated: p.type(DbDateTime).columnType("datetime").name("session_updated").nullable(),
    userId: p.string().length(16).name("user_id").default("0").comment("osTicket staff/client ID"),
    userIp: p.string().length(64).name("user_ip"),
    userAgent: p.string().length(255).name("user_agent"),
  },
  indexes: [
    { name: "updated", properties: ["sessionUpdated"] },
    { name: "user_id", properties: ["userId"] },
  ],
});
export type PhpSession = InferEntity<typeof PhpSession>;
