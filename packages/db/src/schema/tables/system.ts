// Table descriptions of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import type { TableDef } from "../types.ts";

export const apiKeyTable: TableDef = {
  name: "ost_api_key",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(10) unsigned", autoIncrement: true },
    { name: "isactive", type: "tinyint(1)", default: 1 },
    { name: "ipaddr", type: "varchar(64)" },
    { name: "apikey", type: "varchar(255)" },
    { name: "can_create_tickets", type: "tinyint(1) unsigned", default: 1 },
    { name: "can_exec_cron", type: "tinyint(1) unsigned", default: 1 },
    { name: "notes", type: "text", nullable: true, default: null },
    { name: "updated", type: "datetime" },
    { name: "created", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "apikey", kind: "unique", columns: ["apikey"] },
    { name: "ipaddr", kind: "index", columns: ["ipaddr"] },
  ],
  origin: "install",
};

export const syslogTable: TableDef = {
  name: "ost_syslog",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "log_id", type: "int(11) unsigned", autoIncrement: true },
    { name: "log_type", type: "enum('Debug','Warning','Error')" },
    { name: "title", type: "varchar(255)" },
    { name: "log", type: "text" },
    { name: "logger", type: "varchar(64)" },
    { name: "ip_address", type: "varchar(64)" },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["log_id"] },
    { name: "log_type", kind: "index", columns: ["log_type"] },
  ],
  origin: "install",
};

/** Created (and dropped/rebuilt) by osTicket's PHP at run time. */
export const searchTable: TableDef = {
  name: "ost__search",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "object_type", type: "varchar(8)" },
    { name: "object_id", type: "int(11) unsigned" },
    { name: "title", type: "text", nullable: true, default: null },
    { name: "content", type: "text", nullable: true, default: null },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["object_type", "object_id"] },
    { name: "search", kind: "fulltext", columns: ["title", "content"] },
  ],
  origin: "runtime",
};

export const pluginTable: TableDef = {
  name: "ost_plugin",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "name", type: "varchar(255)" },
    { name: "install_path", type: "varchar(60)" },
    { name: "isphar", type: "tinyint(1)", default: 0 },
    { name: "isactive", type: "tinyint(1)", default: 0 },
    { name: "version", type: "varchar(64)", nullable: true, default: null },
    { name: "notes", type: "text", nullable: true, default: null },
    { name: "installed", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "install_path", kind: "unique", columns: ["install_path"] },
  ],
  origin: "install",
};

export const pluginInstanceTable: TableDef = {
  name: "ost_plugin_instance",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "plugin_id", type: "int(11) unsigned" },
    { name: "flags", type: "int(10)", default: 0 },
    { name: "name", type: "varchar(255)", default: "" },
    { name: "notes", type: "text", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime", nullable: true, default: null },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "plugin_id", kind: "index", columns: ["plugin_id"] },
  ],
  origin: "install",
};

export const translationTable: TableDef = {
  name: "ost_translation",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    {
      name: "object_hash",
      type: "char(16)",
      nullable: true,
      default: null,
      charset: "ascii",
      collation: "ascii_general_ci",
    },
    { name: "type", type: "enum('phrase','article','override')", nullable: true, default: null },
    { name: "flags", type: "int(10) unsigned", default: 0 },
    { name: "revision", type: "int(11) unsigned", nullable: true, default: null },
    { name: "agent_id", type: "int(10) unsigned", default: 0 },
    { name: "lang", type: "varchar(16)", default: "" },
    { name: "text", type: "mediumtext" },
    { name: "source_text", type: "text", nullable: true, default: null },
    { name: "updated", type: "timestamp", nullable: true, default: null, onUpdate: "current_timestamp()" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "type", kind: "index", columns: ["type", "lang"] },
    { name: "object_hash", kind: "index", columns: ["object_hash"] },
  ],
  origin: "install",
};

export const faqTable: TableDef = {
  name: "ost_faq",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "faq_id", type: "int(10) unsigned", autoIncrement: true },
    { name: "category_id", type: "int(10) unsigned", default: 0 },
    { name: "ispublished", type: "tinyint(1) unsigned", default: 0 },
    { name: "question", type: "varchar(255)" },
    { name: "answer", type: "text" },
    { name: "keywords", type: "tinytext", nullable: true, default: null },
    { name: "notes", type: "text", nullable: true, default: null },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["faq_id"] },
    { name: "question", kind: "unique", columns: ["question"] },
    { name: "category_id", kind: "index", columns: ["category_id"] },
    { name: "ispublished", kind: "index", columns: ["ispublished"] },
  ],
  origin: "install",
};

export const faqCategoryTable: TableDef = {
  name: "ost_faq_category",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "category_id", type: "int(10) unsigned", autoIncrement: true },
    { name: "category_pid", type: "int(10) unsigned", nullable: true, default: null },
    { name: "ispublic", type: "tinyint(1) unsigned", default: 0 },
    { name: "name", type: "varchar(125)", nullable: true, default: null },
    { name: "description", type: "text" },
    { name: "notes", type: "tinytext" },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["category_id"] },
    { name: "ispublic", kind: "index", columns: ["ispublic"] },
  ],
  origin: "install",
};

export const faqTopicTable: TableDef = {
  name: "ost_faq_topic",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "faq_id", type: "int(10) unsigned" },
    { name: "topic_id", type: "int(10) unsigned" },
  ],
  indexes: [{ name: "PRIMARY", kind: "primary", columns: ["faq_id", "topic_id"] }],
  origin: "install",
};
