// MikroORM entities of osTicket 1.18.1, derived from a fresh install by src/dev/derive-schema.ts.
// Edit by re-deriving, not by hand.
import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { DbDateTime } from "../types.ts";

/** `ost_form` */
export const Form = defineEntity({
  name: "Form",
  tableName: "ost_form",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    pid: p.integer().unsigned().nullable(),
    type: p.string().length(8).default("G"),
    flags: p.integer().unsigned().default(1),
    title: p.string().length(255),
    instructions: p.string().length(512).nullable(),
    name: p.string().length(64).default(""),
    notes: p.text().nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [{ name: "type", properties: ["type"] }],
});
export type Form = InferEntity<typeof Form>;

/** `ost_form_field` */
export const FormField = defineEntity({
  name: "FormField",
  tableName: "ost_form_field",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    formId: p.integer().unsigned().name("form_id"),
    flags: p.integer().unsigned().nullable().default(1),
    type: p.string().length(255).default("text"),
    label: p.string().length(255),
    name: p.string().length(64),
    configuration: p.text().nullable(),
    sort: p.integer().unsigned(),
    hint: p.string().length(512).nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [
    { name: "form_id", properties: ["formId"] },
    { name: "sort", properties: ["sort"] },
  ],
});
export type FormField = InferEntity<typeof FormField>;

/** `ost_form_entry` */
export const FormEntry = defineEntity({
  name: "FormEntry",
  tableName: "ost_form_entry",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    formId: p.integer().unsigned().name("form_id"),
    objectId: p.integer().unsigned().name("object_id").nullable(),
    objectType: p.character().length(1).name("object_type").default("T"),
    sort: p.integer().unsigned().default(1),
    extra: p.text().nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [{ name: "entry_lookup", properties: ["objectType", "objectId"] }],
});
export type FormEntry = InferEntity<typeof FormEntry>;

/** `ost_form_entry_values` */
export const FormEntryValues = defineEntity({
  name: "FormEntryValues",
  tableName: "ost_form_entry_values",
  properties: {
    entryId: p.integer().unsigned().name("entry_id").primary(),
    fieldId: p.integer().unsigned().name("field_id").primary(),
    value: p.text().nullable(),
    valueId: p.integer().name("value_id").nullable(),
  },
});
export type FormEntryValues = InferEntity<typeof FormEntryValues>;

/** `ost_list` */
export const CustomList = defineEntity({
  name: "CustomList",
  tableName: "ost_list",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    name: p.string().length(255),
    namePlural: p.string().length(255).name("name_plural").nullable(),
    sortMode: p.enum(["Alpha", "-Alpha", "SortCol"]).name("sort_mode").default("Alpha"),
    masks: p.integer().unsigned().default(0),
    type: p.string().length(16).nullable(),
    configuration: p.text().default(""),
    notes: p.text().nullable(),
    created: p.type(DbDateTime).columnType("datetime"),
    updated: p.type(DbDateTime).columnType("datetime"),
  },
  indexes: [{ name: "type", properties: ["type"] }],
});
export type CustomList = InferEntity<typeof CustomList>;

/** `ost_list_items` */
export const CustomListItem = defineEntity({
  name: "CustomListItem",
  tableName: "ost_list_items",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    listId: p.integer().name("list_id").nullable(),
    status: p.integer().unsigned().default(1),
    value: p.string().length(255),
    extra: p.string().length(255).nullable(),
    sort: p.integer().default(1),
    properties: p.text().nullable(),
  },
  indexes: [{ name: "list_item_lookup", properties: ["listId"] }],
});
export type CustomListItem = InferEntity<typeof CustomListItem>;
