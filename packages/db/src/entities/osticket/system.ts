// MikroORM entities of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { DbDateTime } from "../types.ts";

/** `ost_api_key` */
export const ApiKey = defineEntity({
  name: "ApiKey",
  tableName: "ost_api_key",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    isactive: p.tinyint().columnType("tinyint(1)").default(1),
    ipaddr: p.string().length(64),
    apikey: p.string().length(255),
    canCreateTickets: p.tinyint().unsigned().name("can_create_tickets").default(1),
    canExecCron: p.tinyint().unsigned().name("can_exec_cron").default(1),
    notes: p.text().nullable(),
    updated: p.type(DbDateTime).columnType("datetime"),
    created: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [{ name: "ipaddr", properties: ["ipaddr"] }],
  uniques: [{ name: "apikey", properties: ["apikey"] }],
});
export type ApiKey = InferEntity<typeof ApiKey>;

/** `ost_syslog` */
export const Syslog = defineEntity({
  name: "Syslog",
  tableName: "ost_syslog",
  properties: {
    logId: p.integer().unsigned().name("log_id").primary().autoincrement(),
    logType: p.enum(["Debug", "Warning", "Error"]).name("log_type"),
    title: p.string().length(255),
    log: p.text(),
    logger: p.string().length(64),
    ipAddress: p.string().length(64).name("ip_address"),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [{ name: "log_type", properties: ["logType"] }],
});
export type Syslog = InferEntity<typeof Syslog>;

/** `ost__search`: osTicket's full-text search index (created by its PHP, not by install SQL). */
export const SearchIndex = defineEntity({
  name: "SearchIndex",
  tableName: "ost__search",
  properties: {
    objectType: p.string().length(8).name("object_type").primary(),
    objectId: p.integer().unsigned().name("object_id").primary(),
    title: p.text().nullable(),
    content: p.text().nullable(),
  },
  indexes: [{ name: "search", properties: ["title", "content"], type: "fulltext" }],
});
export type SearchIndex = InferEntity<typeof SearchIndex>;

/** `ost_plugin` */
export const Plugin = defineEntity({
  name: "Plugin",
  tableName: "ost_plugin",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    name: p.string().length(255),
    installPath: p.string().length(60).name("install_path"),
    isphar: p.tinyint().columnType("tinyint(1)").default(0),
    isactive: p.tinyint().columnType("tinyint(1)").default(0),
    version: p.string().length(64).nullable(),
    notes: p.text().nullable(),
    installed: p.type(DbDateTime).columnType("datetime"),
  },
  uniques: [{ name: "install_path", properties: ["installPath"] }],
});
export type Plugin = InferEntity<typeof Plugin>;

/** `ost_plugin_instance` */
export const PluginInstance = defineEntity({
  name: "PluginInstance",
  tableName: "ost_plugin_instance",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    pluginId: p.integer().unsigned().name("plugin_id"),
    flags: p.integer().default(0),
    name: p.string().length(255).default(""),
    notes: p.text().nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime").nullable(),
  },
  indexes: [{ name: "plugin_id", properties: ["pluginId"] }],
});
export type PluginInstance = InferEntity<typeof PluginInstance>;

/** `ost_translation` */
export const Translation = defineEntity({
  name: "Translation",
  tableName: "ost_translation",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    objectHash: p.character().length(16).name("object_hash").nullable().collation("ascii_general_ci"),
    type: p.enum(["phrase", "article", "override"]).nullable(),
    flags: p.integer().unsigned().default(0),
    revision: p.integer().unsigned().nullable(),
    agentId: p.integer().unsigned().name("agent_id").default(0),
    lang: p.string().length(16).default(""),
    text: p.text().columnType("mediumtext"),
    sourceText: p.text().name("source_text").nullable(),
    updated: p.type(DbDateTime).columnType("timestamp").nullable().extra("on update current_timestamp()"),
  },
  indexes: [
    { name: "type", properties: ["type", "lang"] },
    { name: "object_hash", properties: ["objectHash"] },
  ],
});
export type Translation = InferEntity<typeof Translation>;

/** `ost_faq` */
export const Faq = defineEntity({
  name: "Faq",
  tableName: "ost_faq",
  properties: {
    faqId: p.integer().unsigned().name("faq_id").primary().autoincrement(),
    categoryId: p.integer().unsigned().name("category_id").default(0),
    ispublished: p.tinyint().unsigned().default(0),
    question: p.string().length(255),
    answer: p.text(),
    keywords: p.text().columnType("tinytext").nullable(),
    notes: p.text().nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [
    { name: "category_id", properties: ["categoryId"] },
    { name: "ispublished", properties: ["ispublished"] },
  ],
  uniques: [{ name: "question", properties: ["question"] }],
});
export type Faq = InferEntity<typeof Faq>;

/** `ost_faq_category` */
export const FaqCategory = defineEntity({
  name: "FaqCategory",
  tableName: "ost_faq_category",
  properties: {
    categoryId: p.integer().unsigned().name("category_id").primary().autoincrement(),
    categoryPid: p.integer().unsigned().name("category_pid").nullable(),
    ispublic: p.tinyint().unsigned().default(0),
    name: p.string().length(125).nullable(),
    description: p.text(),
    notes: p.text().columnType("tinytext"),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [{ name: "ispublic", properties: ["ispublic"] }],
});
export type FaqCategory = InferEntity<typeof FaqCategory>;

/** `ost_faq_topic` */
export const FaqTopic = defineEntity({
  name: "FaqTopic",
  tableName: "ost_faq_topic",
  properties: {
    faqId: p.integer().unsigned().name("faq_id").primary(),
    topicId: p.integer().unsigned().name("topic_id").primary(),
  },
});
export type FaqTopic = InferEntity<typeof FaqTopic>;
