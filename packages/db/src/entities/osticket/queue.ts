// MikroORM entities of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { DbDateTime } from "../types.ts";

/** `ost_queue` */
export const Queue = defineEntity({
  name: "Queue",
  tableName: "ost_queue",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    parentId: p.integer().unsigned().name("parent_id").default(0),
    columnsId: p.integer().unsigned().name("columns_id").nullable(),
    sortId: p.integer().unsigned().name("sort_id").nullable(),
    flags: p.integer().unsigned().default(0),
    staffId: p.integer().unsigned().name("staff_id").default(0),
    sort: p.integer().unsigned().default(0),
    title: p.string().length(60).nullable(),
    config: p.text().nullable(),
    filter: p.string().length(64).nullable(),
    root: p.string().length(32).nullable(),
    path: p.string().length(80).default("/"),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [
    { name: "staff_id", properties: ["staffId"] },
    { name: "parent_id", properties: ["parentId"] },
  ],
});
export type Queue = InferEntity<typeof Queue>;

/** `ost_queue_column` */
export const QueueColumn = defineEntity({
  name: "QueueColumn",
  tableName: "ost_queue_column",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    flags: p.integer().unsigned().default(0),
    name: p.string().length(64).default(""),
    primary: p.string().length(64).default(""),
    secondary: p.string().length(64).nullable(),
    filter: p.string().length(32).nullable(),
    truncate: p.string().length(16).nullable(),
    annotations: p.text().nullable(),
    conditions: p.text().nullable(),
    extra: p.text().nullable(),
  },
});
export type QueueColumn = InferEntity<typeof QueueColumn>;

/** `ost_queue_columns` */
export const QueueColumns = defineEntity({
  name: "QueueColumns",
  tableName: "ost_queue_columns",
  properties: {
    queueId: p.integer().unsigned().name("queue_id").primary(),
    columnId: p.integer().unsigned().name("column_id").primary(),
    staffId: p.integer().unsigned().name("staff_id").primary(),
    bits: p.integer().unsigned().default(0),
    sort: p.integer().unsigned().default(1),
    heading: p.string().length(64).nullable(),
    width: p.integer().unsigned().default(100),
  },
});
export type QueueColumns = InferEntity<typeof QueueColumns>;

/** `ost_queue_config` */
export const QueueConfig = defineEntity({
  name: "QueueConfig",
  tableName: "ost_queue_config",
  properties: {
    queueId: p.integer().unsigned().name("queue_id").primary(),
    staffId: p.integer().unsigned().name("staff_id").primary(),
    setting: p.text().nullable(),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
});
export type QueueConfig = InferEntity<typeof QueueConfig>;

/** `ost_queue_export` */
export const QueueExport = defineEntity({
  name: "QueueExport",
  tableName: "ost_queue_export",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    queueId: p.integer().unsigned().name("queue_id"),
    path: p.string().length(64).default(""),
    heading: p.string().length(64).nullable(),
    sort: p.integer().unsigned().default(1),
  },
  indexes: [{ name: "queue_id", properties: ["queueId"] }],
});
export type QueueExport = InferEntity<typeof QueueExport>;

/** `ost_queue_sort` */
export const QueueSort = defineEntity({
  name: "QueueSort",
  tableName: "ost_queue_sort",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    root: p.string().length(32).nullable(),
    name: p.string().length(64).default(""),
    columns: p.text().nullable(),
    updated: p.type(DbDateTime).columnType("datetime").nullable(),
  },
});
export type QueueSort = InferEntity<typeof QueueSort>;

/** `ost_queue_sorts` */
export const QueueSorts = defineEntity({
  name: "QueueSorts",
  tableName: "ost_queue_sorts",
  properties: {
    queueId: p.integer().unsigned().name("queue_id").primary(),
    sortId: p.integer().unsigned().name("sort_id").primary(),
    bits: p.integer().unsigned().default(0),
    sort: p.integer().unsigned().default(0),
  },
});
export type QueueSorts = InferEntity<typeof QueueSorts>;
