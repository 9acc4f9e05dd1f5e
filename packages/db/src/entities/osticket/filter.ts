// MikroORM entities of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { DbDateTime } from "../types.ts";

/** `ost_filter` */
export const Filter = defineEntity({
  name: "Filter",
  tableName: "ost_filter",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    execorder: p.integer().unsigned().default(99),
    isactive: p.tinyint().unsigned().default(1),
    flags: p.integer().unsigned().nullable().default(0),
    status: p.integer().unsigned().default(0),
    matchAllRules: p.tinyint().unsigned().name("match_all_rules").default(0),
    stopOnmatch: p.tinyint().unsigned().name("stop_onmatch").default(0),
    target: p.enum(["Any", "Web", "Email", "API"]).default("Any"),
    emailId: p.integer().unsigned().name("email_id").default(0),
    name: p.string().length(32).default(""),
    notes: p.text().nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [
    { name: "target", properties: ["target"] },
    { name: "email_id", properties: ["emailId"] },
  ],
});
export type Filter = InferEntity<typeof Filter>;

/** `ost_filter_rule` */
export const FilterRule = defineEntity({
  name: "FilterRule",
  tableName: "ost_filter_rule",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    filterId: p.integer().unsigned().name("filter_id").default(0),
    what: p.string().length(32),
    how: p.enum(["equal", "not_equal", "contains", "dn_contain", "starts", "ends", "match", "not_match"]),
    val: p.string().length(255),
    isactive: p.tinyint().unsigned().default(1),
    notes: p.text().columnType("tinytext"),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [{ name: "filter_id", properties: ["filterId"] }],
  uniques: [{ name: "filter", properties: ["filterId", "what", "how", "val"] }],
});
export type FilterRule = InferEntity<typeof FilterRule>;

/** `ost_filter_action` */
export const FilterAction = defineEntity({
  name: "FilterAction",
  tableName: "ost_filter_action",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    filterId: p.integer().unsigned().name("filter_id"),
    sort: p.integer().unsigned().default(0),
    type: p.string().length(24),
    configuration: p.text().nullable(),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [{ name: "filter_id", properties: ["filterId"] }],
});
export type FilterAction = InferEntity<typeof FilterAction>;
