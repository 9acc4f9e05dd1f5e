// MikroORM entities of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { DbDateTime } from "../types.ts";

/** `ost_email` */
export const Email = defineEntity({
  name: "Email",
  tableName: "ost_email",
  properties: {
    emailId: p.integer().unsigned().name("email_id").primary().autoincrement(),
    noautoresp: p.tinyint().unsigned().default(0),
    priorityId: p.integer().unsigned().name("priority_id").default(2),
    deptId: p.integer().unsigned().name("dept_id").default(0),
    topicId: p.integer().unsigned().name("topic_id").default(0),
    email: p.string().length(255).default(""),
    name: p.string().length(255).default(""),
    notes: p.text().nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [
    { name: "priority_id", properties: ["priorityId"] },
    { name: "dept_id", properties: ["deptId"] },
  ],
  uniques: [{ name: "email", properties: ["email"] }],
});
export type Email = InferEntity<typeof Email>;

/** `ost_email_account` */
export const EmailAccount = defineEntity({
  name: "EmailAccount",
  tableName: "ost_email_account",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    emailId: p.integer().unsigned().name("email_id"),
    type: p.enum(["mailbox", "smtp"]).default("mailbox"),
    authBk: p.string().length(128).name("auth_bk"),
    authId: p.string().length(16).name("auth_id").nullable(),
    active: p.tinyint().unsigned().default(0),
    host: p.string().length(128).default(""),
    port: p.integer(),
    folder: p.string().length(255).nullable(),
    protocol: p.enum(["IMAP", "POP", "SMTP", "OTHER"]).default("OTHER"),
    encryption: p.enum(["NONE", "AUTO", "SSL"]).default("AUTO"),
    fetchfreq: p.tinyint().unsigned().default(5),
    fetchmax: p.tinyint().unsigned().nullable().default(30),
    postfetch: p.enum(["archive", "delete", "nothing"]).default("nothing"),
    archivefolder: p.string().length(255).nullable(),
    allowSpoofing: p.tinyint().unsigned().name("allow_spoofing").nullable().default(0),
    numErrors: p.integer().unsigned().name("num_errors").default(0),
    lastErrorMsg: p.text().columnType("tinytext").name("last_error_msg").nullable(),
    lastError: p.type(DbDateTime).columnType("datetime").name("last_error").nullable(),
    lastActivity: p.type(DbDateTime).columnType("datetime").name("last_activity").nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime").default("0000-00-00 00:00:00"),
  },
  indexes: [
    { name: "email_id", properties: ["emailId"] },
    { name: "type", properties: ["type"] },
  ],
});
export type EmailAccount = InferEntity<typeof EmailAccount>;

/** `ost_email_template` */
export const EmailTemplate = defineEntity({
  name: "EmailTemplate",
  tableName: "ost_email_template",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    tplId: p.integer().unsigned().name("tpl_id"),
    codeName: p.string().length(32).name("code_name"),
    subject: p.string().length(255).default(""),
    body: p.text(),
    notes: p.text().nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  uniques: [{ name: "template_lookup", properties: ["tplId", "codeName"] }],
});
export type EmailTemplate = InferEntity<typeof EmailTemplate>;

/** `ost_email_template_group` */
export const EmailTemplateGroup = defineEntity({
  name: "EmailTemplateGroup",
  tableName: "ost_email_template_group",
  properties: {
    tplId: p.integer().unsigned(false).name("tpl_id").primary().autoincrement(),
    isactive: p.tinyint().unsigned().default(0),
    name: p.string().length(32).default(""),
    lang: p.string().length(16).default("en_US"),
    notes: p.text().nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("timestamp"),
  },
});
export type EmailTemplateGroup = InferEntity<typeof EmailTemplateGroup>;

/** `ost_canned_response` */
export const CannedResponse = defineEntity({
  name: "CannedResponse",
  tableName: "ost_canned_response",
  properties: {
    cannedId: p.integer().unsigned().name("canned_id").primary().autoincrement(),
    deptId: p.integer().unsigned().name("dept_id").default(0),
    isenabled: p.tinyint().unsigned().default(1),
    title: p.string().length(255).default(""),
    response: p.text(),
    lang: p.string().length(16).default("en_US"),
    notes: p.text().nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [
    { name: "dept_id", properties: ["deptId"] },
    { name: "active", properties: ["isenabled"] },
  ],
  uniques: [{ name: "title", properties: ["title"] }],
});
export type CannedResponse = InferEntity<typeof CannedResponse>;

/** `ost_content` */
export const Content = defineEntity({
  name: "Content",
  tableName: "ost_content",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    isactive: p.tinyint().unsigned().default(0),
    type: p.string().length(32).default("other"),
    name: p.string().length(255),
    body: p.text(),
    notes: p.text().nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  uniques: [{ name: "name", properties: ["name"] }],
});
export type Content = InferEntity<typeof Content>;
