// MikroORM entities of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { DbDateTime } from "../types.ts";

/** `ost_ticket` */
export const Ticket = defineEntity({
  name: "Ticket",
  tableName: "ost_ticket",
  properties: {
    ticketId: p.integer().unsigned().name("ticket_id").primary().autoincrement(),
    ticketPid: p.integer().unsigned().name("ticket_pid").nullable(),
    number: p.string().length(20).nullable(),
    userId: p.integer().unsigned().name("user_id").default(0),
    userEmailId: p.integer().unsigned().name("user_email_id").default(0),
    statusId: p.integer().unsigned().name("status_id").default(0),
    deptId: p.integer().unsigned().name("dept_id").default(0),
    slaId: p.integer().unsigned().name("sla_id").default(0),
    topicId: p.integer().unsigned().name("topic_id").default(0),
    staffId: p.integer().unsigned().name("staff_id").default(0),
    teamId: p.integer().unsigned().name("team_id").default(0),
    emailId: p.integer().unsigned().name("email_id").default(0),
    lockId: p.integer().unsigned().name("lock_id").default(0),
    flags: p.integer().unsigned().default(0),
    sort: p.integer().unsigned().default(0),
    ipAddress: p.string().length(64).name("ip_address").default(""),
    source: p.enum(["Web", "Email", "Phone", "API", "Other"]).default("Other"),
    sourceExtra: p.string().length(40).name("source_extra").nullable(),
    isoverdue: p.tinyint().unsigned().default(0),
    isanswered: p.tinyint().unsigned().default(0),
    duedate: p.type(DbDateTime).columnType("datetime").nullable(),
    estDuedate: p.type(DbDateTime).columnType("datetime").name("est_duedate").nullable(),
    reopened: p.type(DbDateTime).columnType("datetime").nullable(),
    closed: p.type(DbDateTime).columnType("datetime").nullable(),
    lastupdate: p.type(DbDateTime).columnType("datetime").nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [
    { name: "user_id", properties: ["userId"] },
    { name: "dept_id", properties: ["deptId"] },
    { name: "staff_id", properties: ["staffId"] },
    { name: "team_id", properties: ["teamId"] },
    { name: "status_id", properties: ["statusId"] },
    { name: "created", properties: ["created"] },
    { name: "closed", properties: ["closed"] },
    { name: "duedate", properties: ["duedate"] },
    { name: "topic_id", properties: ["topicId"] },
    { name: "sla_id", properties: ["slaId"] },
    { name: "ticket_pid", properties: ["ticketPid"] },
  ],
});
export type Ticket = InferEntity<typeof Ticket>;

/**
 * `ost_ticket__cdata`: osTicket's materialized copy of the base form's answers. osTicket drops and rebuilds it
 * whenever that form's fields change, so only the key and the stock columns are mapped; treat it as
 * disposable and write the real answers to form_entry_values first.
 */
export const TicketCdata = defineEntity({
  name: "TicketCdata",
  tableName: "ost_ticket__cdata",
  properties: {
    ticketId: p.integer().unsigned().name("ticket_id").primary().autoincrement(false),
    subject: p.text().columnType("mediumtext").nullable(),
    priority: p.text().columnType("mediumtext").nullable(),
  },
});
export type TicketCdata = InferEntity<typeof TicketCdata>;

/** `ost_ticket_status` */
export const TicketStatus = defineEntity({
  name: "TicketStatus",
  tableName: "ost_ticket_status",
  properties: {
    id: p.integer().unsigned(false).primary().autoincrement(),
    name: p.string().length(60).default(""),
    state: p.string().length(16).nullable(),
    mode: p.integer().unsigned().default(0),
    flags: p.integer().unsigned().default(0),
    sort: p.integer().unsigned().default(0),
    properties: p.text(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [{ name: "state", properties: ["state"] }],
  uniques: [{ name: "name", properties: ["name"] }],
});
export type TicketStatus = InferEntity<typeof TicketStatus>;

/** `ost_ticket_priority` */
export const TicketPriority = defineEntity({
  name: "TicketPriority",
  tableName: "ost_ticket_priority",
  properties: {
    priorityId: p.tinyint().unsigned(false).name("priority_id").primary().autoincrement(),
    priority: p.string().length(60).default(""),
    priorityDesc: p.string().length(30).name("priority_desc").default(""),
    priorityColor: p.string().length(7).name("priority_color").default(""),
    priorityUrgency: p.tinyint().unsigned().name("priority_urgency").default(0),
    ispublic: p.tinyint().columnType("tinyint(1)").default(1),
  },
  indexes: [
    { name: "priority_urgency", properties: ["priorityUrgency"] },
    { name: "ispublic", properties: ["ispublic"] },
  ],
  uniques: [{ name: "priority", properties: ["priority"] }],
});
export type TicketPriority = InferEntity<typeof TicketPriority>;

/** `ost_lock` */
export const TicketLock = defineEntity({
  name: "TicketLock",
  tableName: "ost_lock",
  properties: {
    lockId: p.integer().unsigned().name("lock_id").primary().autoincrement(),
    staffId: p.integer().unsigned().name("staff_id").default(0),
    expire: p.type(DbDateTime).columnType("datetime").nullable(),
    code: p.string().length(20).nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [{ name: "staff_id", properties: ["staffId"] }],
});
export type TicketLock = InferEntity<typeof TicketLock>;

/** `ost_draft` */
export const Draft = defineEntity({
  name: "Draft",
  tableName: "ost_draft",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    staffId: p.integer().unsigned().name("staff_id"),
    namespace: p.string().length(32).default(""),
    body: p.text(),
    extra: p.text().nullable(),
    created: p.type(DbDateTime).columnType("timestamp").defaultRaw("current_timestamp()"),
    updated: p.type(DbDateTime).columnType("timestamp").nullable(),
  },
  indexes: [
    { name: "staff_id", properties: ["staffId"] },
    { name: "namespace", properties: ["namespace"] },
  ],
});
export type Draft = InferEntity<typeof Draft>;

/** `ost_task` */
export const Task = defineEntity({
  name: "Task",
  tableName: "ost_task",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    objectId: p.integer().name("object_id").default(0),
    objectType: p.character().length(1).name("object_type"),
    number: p.string().length(20).nullable(),
    deptId: p.integer().unsigned().name("dept_id").default(0),
    staffId: p.integer().unsigned().name("staff_id").default(0),
    teamId: p.integer().unsigned().name("team_id").default(0),
    lockId: p.integer().unsigned().name("lock_id").default(0),
    flags: p.integer().unsigned().default(0),
    duedate: p.type(DbDateTime).columnType("datetime").nullable(),
    closed: p.type(DbDateTime).columnType("datetime").nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [
    { name: "dept_id", properties: ["deptId"] },
    { name: "staff_id", properties: ["staffId"] },
    { name: "team_id", properties: ["teamId"] },
    { name: "created", properties: ["created"] },
    { name: "object", properties: ["objectId", "objectType"] },
    { name: "flags", properties: ["flags"] },
  ],
});
export type Task = InferEntity<typeof Task>;

/**
 * `ost_task__cdata`: osTicket's materialized copy of the base form's answers. osTicket drops and rebuilds it
 * whenever that form's fields change, so only the key and the stock columns are mapped; treat it as
 * disposable and write the real answers to form_entry_values first.
 */
export const TaskCdata = defineEntity({
  name: "TaskCdata",
  tableName: "ost_task__cdata",
  properties: {
    taskId: p.integer().unsigned().name("task_id").primary().autoincrement(false),
    title: p.text().columnType("mediumtext").nullable(),
  },
});
export type TaskCdata = InferEntity<typeof TaskCdata>;
