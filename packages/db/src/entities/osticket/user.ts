// MikroORM entities of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { DbDateTime } from "../types.ts";

/** `ost_user` */
export const User = defineEntity({
  name: "User",
  tableName: "ost_user",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    orgId: p.integer().unsigned().name("org_id"),
    defaultEmailId: p.integer().name("default_email_id"),
    status: p.integer().unsigned().default(0),
    name: p.string().length(128),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [
    { name: "org_id", properties: ["orgId"] },
    { name: "default_email_id", properties: ["defaultEmailId"] },
    { name: "name", properties: ["name"] },
  ],
});
export type User = InferEntity<typeof User>;

/** `ost_user_email` */
export const UserEmail = defineEntity({
  name: "UserEmail",
  tableName: "ost_user_email",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    userId: p.integer().unsigned().name("user_id"),
    flags: p.integer().unsigned().default(0),
    address: p.string().length(255),
  },
  indexes: [{ name: "user_email_lookup", properties: ["userId"] }],
  uniques: [{ name: "address", properties: ["address"] }],
});
export type UserEmail = InferEntity<typeof UserEmail>;

/** `ost_user_account` */
export const UserAccount = defineEntity({
  name: "UserAccount",
  tableName: "ost_user_account",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    userId: p.integer().unsigned().name("user_id"),
    status: p.integer().unsigned().default(0),
    timezone: p.string().length(64).nullable(),
    lang: p.string().length(16).nullable(),
    username: p.string().length(64).nullable(),
    passwd: p.string().length(128).nullable().collation("ascii_bin"),
    backend: p.string().length(32).nullable(),
    extra: p.text().nullable(),
    registered: p.type(DbDateTime).columnType("timestamp").nullable().defaultRaw("current_timestamp()"),
  },
  indexes: [{ name: "user_id", properties: ["userId"] }],
  uniques: [{ name: "username", properties: ["username"] }],
});
export type UserAccount = InferEntity<typeof UserAccount>;

/**
 * `ost_user__cdata`: osTicket's materialized copy of the base form's answers. osTicket drops and rebuilds it
 * whenever that form's fields change, so only the key and the stock columns are mapped; treat it as
 * disposable and write the real answers to form_entry_values first.
 */
export const UserCdata = defineEntity({
  name: "UserCdata",
  tableName: "ost_user__cdata",
  properties: {
    userId: p.integer().unsigned().name("user_id").primary().autoincrement(false),
    email: p.text().columnType("mediumtext").nullable(),
    name: p.text().columnType("mediumtext").nullable(),
    phone: p.text().columnType("mediumtext").nullable(),
    notes: p.text().columnType("mediumtext").nullable(),
  },
});
export type UserCdata = InferEntity<typeof UserCdata>;

/** `ost_organization` */
export const Organization = defineEntity({
  name: "Organization",
  tableName: "ost_organization",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    name: p.string().length(128).default(""),
    manager: p.string().length(16).default(""),
    status: p.integer().unsigned().default(0),
    domain: p.string().length(256).default(""),
    extra: p.text().nullable(),
    created: p.type(DbDateTime).columnType("timestamp").nullable(),
    updated: p.type(DbDateTime).columnType("timestamp").nullable().extra("on update current_timestamp()"),
  },
});
export type Organization = InferEntity<typeof Organization>;

/**
 * `ost_organization__cdata`: osTicket's materialized copy of the base form's answers. osTicket drops and rebuilds it
 * whenever that form's fields change, so only the key and the stock columns are mapped; treat it as
 * disposable and write the real answers to form_entry_values first.
 */
export const OrganizationCdata = defineEntity({
  name: "OrganizationCdata",
  tableName: "ost_organization__cdata",
  properties: {
    orgId: p.integer().unsigned().name("org_id").primary().autoincrement(false),
    name: p.text().columnType("mediumtext").nullable(),
    address: p.text().columnType("mediumtext").nullable(),
    phone: p.text().columnType("mediumtext").nullable(),
    website: p.text().columnType("mediumtext").nullable(),
    notes: p.text().columnType("mediumtext").nullable(),
  },
});
export type OrganizationCdata = InferEntity<typeof OrganizationCdata>;
