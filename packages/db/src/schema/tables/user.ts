// Table descriptions of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import type { TableDef } from "../types.ts";

export const userTable: TableDef = {
  name: "ost_user",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(10) unsigned", autoIncrement: true },
    { name: "org_id", type: "int(10) unsigned" },
    { name: "default_email_id", type: "int(10)" },
    { name: "status", type: "int(11) unsigned", default: 0 },
    { name: "name", type: "varchar(128)" },
    { name: "created", type: "datetime" },
    { name: "updated", type: "datetime" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "org_id", kind: "index", columns: ["org_id"] },
    { name: "default_email_id", kind: "index", columns: ["default_email_id"] },
    { name: "name", kind: "index", columns: ["name"] },
  ],
  origin: "install",
};

export const userEmailTable: TableDef = {
  name: "ost_user_email",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(10) unsigned", autoIncrement: true },
    { name: "user_id", type: "int(10) unsigned" },
    { name: "flags", type: "int(10) unsigned", default: 0 },
    { name: "address", type: "varchar(255)" },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "address", kind: "unique", columns: ["address"] },
    { name: "user_email_lookup", kind: "index", columns: ["user_id"] },
  ],
  origin: "install",
};

export const userAccountTable: TableDef = {
  name: "ost_user_account",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "user_id", type: "int(10) unsigned" },
    { name: "status", type: "int(11) unsigned", default: 0 },
    { name: "timezone", type: "varchar(64)", nullable: true, default: null },
    { name: "lang", type: "varchar(16)", nullable: true, default: null },
    { name: "username", type: "varchar(64)", nullable: true, default: null },
    {
      name: "passwd",
      type: "varchar(128)",
      nullable: true,
      default: null,
      charset: "ascii",
      collation: "ascii_bin",
    },
    { name: "backend", type: "varchar(32)", nullable: true, default: null },
    { name: "extra", type: "text", nullable: true, default: null },
    { name: "registered", type: "timestamp", nullable: true, default: { sql: "current_timestamp()" } },
  ],
  indexes: [
    { name: "PRIMARY", kind: "primary", columns: ["id"] },
    { name: "username", kind: "unique", columns: ["username"] },
    { name: "user_id", kind: "index", columns: ["user_id"] },
  ],
  origin: "install",
};

/** Created (and dropped/rebuilt) by osTicket's PHP at run time. */
export const userCdataTable: TableDef = {
  name: "ost_user__cdata",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "user_id", type: "int(11) unsigned" },
    { name: "email", type: "mediumtext", nullable: true, default: null },
    { name: "name", type: "mediumtext", nullable: true, default: null },
    { name: "phone", type: "mediumtext", nullable: true, default: null },
    { name: "notes", type: "mediumtext", nullable: true, default: null },
  ],
  indexes: [{ name: "PRIMARY", kind: "primary", columns: ["user_id"] }],
  origin: "runtime",
};

export const organizationTable: TableDef = {
  name: "ost_organization",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "id", type: "int(11) unsigned", autoIncrement: true },
    { name: "name", type: "varchar(128)", default: "" },
    { name: "manager", type: "varchar(16)", default: "" },
    { name: "status", type: "int(11) unsigned", default: 0 },
    { name: "domain", type: "varchar(256)", default: "" },
    { name: "extra", type: "text", nullable: true, default: null },
    { name: "created", type: "timestamp", nullable: true, default: null },
    { name: "updated", type: "timestamp", nullable: true, default: null, onUpdate: "current_timestamp()" },
  ],
  indexes: [{ name: "PRIMARY", kind: "primary", columns: ["id"] }],
  origin: "install",
};

/** Created (and dropped/rebuilt) by osTicket's PHP at run time. */
export const organizationCdataTable: TableDef = {
  name: "ost_organization__cdata",
  engine: "InnoDB",
  charset: "utf8mb3",
  collation: "utf8mb3_general_ci",
  columns: [
    { name: "org_id", type: "int(11) unsigned" },
    { name: "name", type: "mediumtext", nullable: true, default: null },
    { name: "address", type: "mediumtext", nullable: true, default: null },
    { name: "phone", type: "mediumtext", nullable: true, default: null },
    { name: "website", type: "mediumtext", nullable: true, default: null },
    { name: "notes", type: "mediumtext", nullable: true, default: null },
  ],
  indexes: [{ name: "PRIMARY", kind: "primary", columns: ["org_id"] }],
  origin: "runtime",
};
