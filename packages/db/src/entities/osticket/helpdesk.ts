// MikroORM entities of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { DbDateTime } from "../types.ts";

/** `ost_help_topic` */
export const HelpTopic = defineEntity({
  name: "HelpTopic",
  tableName: "ost_help_topic",
  properties: {
    topicId: p.integer().unsigned().name("topic_id").primary().autoincrement(),
    topicPid: p.integer().unsigned().name("topic_pid").default(0),
    ispublic: p.tinyint().unsigned().default(1),
    noautoresp: p.tinyint().unsigned().default(0),
    flags: p.integer().unsigned().nullable().default(0),
    statusId: p.integer().unsigned().name("status_id").default(0),
    priorityId: p.integer().unsigned().name("priority_id").default(0),
    deptId: p.integer().unsigned().name("dept_id").default(0),
    staffId: p.integer().unsigned().name("staff_id").default(0),
    teamId: p.integer().unsigned().name("team_id").default(0),
    slaId: p.integer().unsigned().name("sla_id").default(0),
    pageId: p.integer().unsigned().name("page_id").default(0),
    sequenceId: p.integer().unsigned().name("sequence_id").default(0),
    sort: p.integer().unsigned().default(0),
    topic: p.string().length(128).default(""),
    numberFormat: p.string().length(32).name("number_format").nullable(),
    notes: p.text().nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [
    { name: "topic_pid", properties: ["topicPid"] },
    { name: "priority_id", properties: ["priorityId"] },
    { name: "dept_id", properties: ["deptId"] },
    { name: "staff_id", properties: ["staffId", "teamId"] },
    { name: "sla_id", properties: ["slaId"] },
    { name: "page_id", properties: ["pageId"] },
  ],
  uniques: [{ name: "topic", properties: ["topic", "topicPid"] }],
});
export type HelpTopic = InferEntity<typeof HelpTopic>;

/** `ost_help_topic_form` */
export const HelpTopicForm = defineEntity({
  name: "HelpTopicForm",
  tableName: "ost_help_topic_form",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    topicId: p.integer().unsigned().name("topic_id").default(0),
    formId: p.integer().unsigned().name("form_id").default(0),
    sort: p.integer().unsigned().default(1),
    extra: p.text().nullable(),
  },
  indexes: [{ name: "topic-form", properties: ["topicId", "formId"] }],
});
export type HelpTopicForm = InferEntity<typeof HelpTopicForm>;

/** `ost_sla` */
export const Sla = defineEntity({
  name: "Sla",
  tableName: "ost_sla",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    scheduleId: p.integer().unsigned().name("schedule_id").default(0),
    flags: p.integer().unsigned().default(3),
    gracePeriod: p.integer().unsigned().name("grace_period").default(0),
    name: p.string().length(64).default(""),
    notes: p.text().nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  uniques: [{ name: "name", properties: ["name"] }],
});
export type Sla = InferEntity<typeof Sla>;

/** `ost_schedule` */
export const Schedule = defineEntity({
  name: "Schedule",
  tableName: "ost_schedule",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    flags: p.integer().unsigned().default(0),
    name: p.string().length(255),
    timezone: p.string().length(64).nullable(),
    description: p.string().length(255),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
});
export type Schedule = InferEntity<typeof Schedule>;

/** `ost_schedule_entry` */
export const ScheduleEntry = defineEntity({
  name: "ScheduleEntry",
  tableName: "ost_schedule_entry",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    scheduleId: p.integer().unsigned().name("schedule_id").default(0),
    flags: p.integer().unsigned().default(0),
    sort: p.tinyint().unsigned().default(0),
    name: p.string().length(255),
    repeats: p.string().length(16).default("never"),
    startsOn: p.type(DbDateTime).columnType("date").name("starts_on").nullable(),
    startsAt: p.type(DbDateTime).columnType("time").name("starts_at").nullable(),
    endsOn: p.type(DbDateTime).columnType("date").name("ends_on").nullable(),
    endsAt: p.type(DbDateTime).columnType("time").name("ends_at").nullable(),
    stopsOn: p.type(DbDateTime).columnType("datetime").name("stops_on").nullable(),
    day: p.tinyint().nullable(),
    week: p.tinyint().nullable(),
    month: p.tinyint().nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [
    { name: "schedule_id", properties: ["scheduleId"] },
    { name: "repeats", properties: ["repeats"] },
  ],
});
export type ScheduleEntry = InferEntity<typeof ScheduleEntry>;

/** `ost_sequence` */
export const Sequence = defineEntity({
  name: "Sequence",
  tableName: "ost_sequence",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    name: p.string().length(64).nullable(),
    flags: p.integer().unsigned().nullable(),
    next: p.bigint("number").unsigned().defaultRaw("1"),
    increment: p.integer().nullable().default(1),
    padding: p.character().length(1).nullable().default("0"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
});
export type Sequence = InferEntity<typeof Sequence>;

/** `ost_config` */
export const ConfigItem = defineEntity({
  name: "ConfigItem",
  tableName: "ost_config",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    namespace: p.string().length(64),
    key: p.string().length(64),
    value: p.text(),
    updated: p.type(DbDateTime).columnType("timestamp").defaultRaw("current_timestamp()"),
  },
  uniques: [{ name: "namespace", properties: ["namespace", "key"] }],
});
export type ConfigItem = InferEntity<typeof ConfigItem>;
