// MikroORM entities of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { DbDateTime } from "../types.ts";

/** `ost_thread` */
export const Thread = defineEntity({
  name: "Thread",
  tableName: "ost_thread",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    objectId: p.integer().unsigned().name("object_id"),
    objectType: p.character().length(1).name("object_type"),
    extra: p.text().nullable(),
    lastresponse: p.type(DbDateTime).columnType("datetime").nullable(),
    lastmessage: p.type(DbDateTime).columnType("datetime").nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [
    { name: "object_id", properties: ["objectId"] },
    { name: "object_type", properties: ["objectType"] },
  ],
});
export type Thread = InferEntity<typeof Thread>;

/** `ost_thread_entry` */
export const ThreadEntry = defineEntity({
  name: "ThreadEntry",
  tableName: "ost_thread_entry",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    pid: p.integer().unsigned().default(0),
    threadId: p.integer().unsigned().name("thread_id").default(0),
    staffId: p.integer().unsigned().name("staff_id").default(0),
    userId: p.integer().unsigned().name("user_id").default(0),
    type: p.character().length(1).default(""),
    flags: p.integer().unsigned().default(0),
    poster: p.string().length(128).default(""),
    editor: p.integer().unsigned().nullable(),
    editorType: p.character().length(1).name("editor_type").nullable(),
    source: p.string().length(32).default(""),
    title: p.string().length(255).nullable(),
    body: p.text(),
    format: p.string().length(16).default("html"),
    ipAddress: p.string().length(64).name("ip_address").default(""),
    extra: p.text().nullable(),
    recipients: p.text().nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [
    { name: "pid", properties: ["pid"] },
    { name: "thread_id", properties: ["threadId"] },
    { name: "staff_id", properties: ["staffId"] },
    { name: "type", properties: ["type"] },
  ],
});
export type ThreadEntry = InferEntity<typeof ThreadEntry>;

/** `ost_thread_entry_email` */
export const ThreadEntryEmail = defineEntity({
  name: "ThreadEntryEmail",
  tableName: "ost_thread_entry_email",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    threadEntryId: p.integer().unsigned().name("thread_entry_id"),
    emailId: p.integer().unsigned().name("email_id").nullable(),
    mid: p.string().length(255),
    headers: p.text().nullable(),
  },
  indexes: [
    { name: "thread_entry_id", properties: ["threadEntryId"] },
    { name: "mid", properties: ["mid"] },
    { name: "email_id", properties: ["emailId"] },
  ],
});
export type ThreadEntryEmail = InferEntity<typeof ThreadEntryEmail>;

/** `ost_thread_entry_merge` */
export const ThreadEntryMerge = defineEntity({
  name: "ThreadEntryMerge",
  tableName: "ost_thread_entry_merge",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    threadEntryId: p.integer().unsigned().name("thread_entry_id"),
    data: p.text().nullable(),
  },
  indexes: [{ name: "thread_entry_id", properties: ["threadEntryId"] }],
});
export type ThreadEntryMerge = InferEntity<typeof ThreadEntryMerge>;

/** `ost_thread_event` */
export const ThreadEvent = defineEntity({
  name: "ThreadEvent",
  tableName: "ost_thread_event",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    threadId: p.integer().unsigned().name("thread_id").default(0),
    threadType: p.character().length(1).name("thread_type").default(""),
    eventId: p.integer().unsigned().name("event_id").nullable(),
    staffId: p.integer().unsigned().name("staff_id"),
    teamId: p.integer().unsigned().name("team_id"),
    deptId: p.integer().unsigned().name("dept_id"),
    topicId: p.integer().unsigned().name("topic_id"),
    data: p.string().length(1024).nullable().comment("Encoded differences"),
    username: p.string().length(128).default("SYSTEM"),
    uid: p.integer().unsigned().nullable(),
    uidType: p.character().length(1).name("uid_type").default("S"),
    annulled: p.tinyint().unsigned().default(0),
    timestamp: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [
    { name: "ticket_state", properties: ["threadId", "eventId", "timestamp"] },
    { name: "ticket_stats", properties: ["timestamp", "eventId"] },
  ],
});
export type ThreadEvent = InferEntity<typeof ThreadEvent>;

/** `ost_thread_collaborator` */
export const ThreadCollaborator = defineEntity({
  name: "ThreadCollaborator",
  tableName: "ost_thread_collaborator",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    flags: p.integer().unsigned().default(1),
    threadId: p.integer().unsigned().name("thread_id").default(0),
    userId: p.integer().unsigned().name("user_id").default(0),
    role: p.character().length(1).default("M"),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [{ name: "user_id", properties: ["userId"] }],
  uniques: [{ name: "collab", properties: ["threadId", "userId"] }],
});
export type ThreadCollaborator = InferEntity<typeof ThreadCollaborator>;

/** `ost_thread_referral` */
export const ThreadReferral = defineEntity({
  name: "ThreadReferral",
  tableName: "ost_thread_referral",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    threadId: p.integer().unsigned().name("thread_id"),
    objectId: p.integer().unsigned().name("object_id"),
    objectType: p.character().length(1).name("object_type"),
    created: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [{ name: "thread_id", properties: ["threadId"] }],
  uniques: [{ name: "ref", properties: ["objectId", "objectType", "threadId"] }],
});
export type ThreadReferral = InferEntity<typeof ThreadReferral>;

/** `ost_event` */
export const EventType = defineEntity({
  name: "EventType",
  tableName: "ost_event",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    name: p.string().length(60),
    description: p.string().length(60).nullable(),
  },
  uniques: [{ name: "name", properties: ["name"] }],
});
export type EventType = InferEntity<typeof EventType>;

/** `ost_note` */
export const QuickNote = defineEntity({
  name: "QuickNote",
  tableName: "ost_note",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    pid: p.integer().unsigned().nullable(),
    staffId: p.integer().unsigned().name("staff_id").default(0),
    extId: p.string().length(10).name("ext_id").nullable(),
    body: p.text().nullable(),
    status: p.integer().unsigned().default(0),
    sort: p.integer().unsigned().default(0),
    created: p.type(DbDateTime).columnType("timestamp").default("0000-00-00 00:00:00"),
    updated: p
      .type(DbDateTime)
      .columnType("timestamp")
      .default("0000-00-00 00:00:00")
      .extra("on update current_timestamp()"),
  },
  indexes: [{ name: "ext_id", properties: ["extId"] }],
});
export type QuickNote = InferEntity<typeof QuickNote>;
