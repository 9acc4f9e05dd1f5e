import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { EntityManager } from "@ostmesh/db";
import { execute, query } from "@ostmesh/db";
import { num, str } from "@ostmesh/kit/auth/index.ts";
import {
  displayedAnswer,
  fieldChoices,
  type ListItem,
  listIdOf,
  listItemOf,
  parseAnswer,
  type StoredAnswer,
  storeAnswer,
  storedSearchable,
  validateAnswer,
} from "@ostmesh/kit/osticket/forms/answers.ts";
import { type AnswerDates, answerDates, parseAnswerDate } from "@ostmesh/kit/osticket/forms/datetime.ts";
import {
  cdataColumn,
  type FormField,
  hasData,
  isEnabled,
  isExtStored,
} from "@ostmesh/kit/osticket/forms/fields.ts";
import { isRecord, json } from "@ostmesh/kit/osticket/php.ts";
import { type FormAnswer, FormAnswerSchema } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";

/**
 * osTicket's dynamic forms as the contact (U) and organization (O) forms use them (FACTS §1.8): one
 * ost_form_entry per object, one ost_form_entry_values row per stored field (even when empty), the
 * disposable `<object>__cdata` mirror upserted after each value, and the ost__search row.
 */

export interface BaseForm {
  formId: number;
  fields: FormField[];
}

/**
 * Field types an answer can be given for as text: the ones whose parse and storage the shared form code
 * knows (files, and presentation-only fields, cannot be set).
 */
const writable = (field: FormField): boolean =>
  hasData(field) &&
  (["text", "memo", "phone", "bool", "datetime", "choices"].includes(field.type) ||
    listIdOf(field) !== undefined);

/** The base form of a type ("U" contact form, "O" organization form) with its enabled fields. */
export async function baseForm(em: EntityManager, type: "U" | "O"): Promise<BaseForm> {
  const [form] = await query(em, "SELECT id FROM ost_form WHERE type = ? ORDER BY id LIMIT 1", [type]);
  if (!form) throw new Error(`osTicket has no ${type} form`);
  const rows = await query(
    em,
    "SELECT id, form_id, name, label, type, flags, sort, configuration FROM ost_form_field WHERE form_id = ?" +
      " ORDER BY sort, id",
    [form.id],
  );
  return {
    formId: num(form.id),
    fields: rows
      .map((r): FormField => {
        const configuration = json(r.configuration === null ? null : str(r.configuration));
        return {
          id: num(r.id),
          formId: num(r.form_id),
          name: str(r.name),
          label: str(r.label),
          type: str(r.type),
          flags: num(r.flags),
          sort: num(r.sort),
          configuration: isRecord(configuration) ? configuration : {},
        };
      })
      .filter(isEnabled),
  };
}

/** Fields whose value lives in ost_form_entry_values (not ext-stored, not presentation-only). */
export function storedFields(form: BaseForm): FormField[] {
  return form.fields.filter((f) => !isExtStored(f) && hasData(f));
}

/** What reading answers needs besides their text: the items of the lists asked about, the date settings. */
interface AnswerReading {
  listItems: Map<number, ListItem[]>;
  /** Read only when a date is asked about. */
  dates: AnswerDates | undefined;
}

/** The helpdesk's date settings (ost_config, core): how date answers are stored and indexed. */
export async function helpdeskDates(em: EntityManager): Promise<AnswerDates> {
  const rows = await query(
    em,
    "SELECT `key`, value FROM ost_config WHERE namespace = 'core'" +
      " AND `key` IN ('date_formats', 'date_format', 'datetime_format', 'default_timezone')",
  );
  const settings = new Map(rows.map((r) => [str(r.key), str(r.value)]));
  return answerDates({
    get: (key) => settings.get(key),
    defaultTimezone: settings.get("default_timezone") || "UTC",
  });
}

async function answerReading(em: EntityManager, fields: readonly FormField[]): Promise<AnswerReading> {
  const listIds = [...new Set(fields.map(listIdOf).filter((id) => id !== undefined))];
  const listItems = new Map<number, ListItem[]>();
  if (listIds.length) {
    const rows = await query(
      em,
      `SELECT id, list_id, value, extra, status FROM ost_list_items WHERE list_id IN (${listIds.map(() => "?").join(", ")})` +
        " ORDER BY sort, id",
      listIds,
    );
    for (const item of rows.map(listItemOf))
      listItems.set(item.listId, [...(listItems.get(item.listId) ?? []), item]);
  }
  const dated = fields.some((f) => f.type === "datetime");
  return { listItems, dates: dated ? await helpdeskDates(em) : undefined };
}

const invalid = (field: FormField, problem: string) =>
  new ConnectError(`${field.label || field.name}: ${problem}`, Code.InvalidArgument);

/**
 * One answer as osTicket's field stores it (the value row, its `__cdata` mirror and search text), read
 * as the staff panel's widgets read text: emoji out (utf8mb3), phones digits-only (`555-123-4567 x12` →
 * `5551234567X12`), rich text cleaned, a list item by id, value or abbreviation, a choice by key or label,
 * a date in the helpdesk's zone. INVALID_ARGUMENT for what the field cannot hold, where osTicket's panel
 * would show an error or drop the answer.
 */
function answerOf(field: FormField, raw: string, reading: AnswerReading): StoredAnswer {
  const text = stripAstral(raw);
  let given = text;
  if (field.type === "choices" && text.trim()) {
    const choices = fieldChoices(field);
    const key = choices.has(text.trim())
      ? text.trim()
      : [...choices].find(([, label]) => label === text.trim())?.[0];
    if (key === undefined)
      throw invalid(field, `"${text.trim()}" is not one of its choices (${[...choices.keys()].join(", ")})`);
    given = key;
  }
  if (field.type === "datetime" && text.trim() && parseAnswerDate(text) === undefined)
    throw invalid(field, "enter a date (2026-12-01, 2026-12-01 14:30 or 12/01/2026)");
  const value = parseAnswer(field, given, { listItems: reading.listItems, dates: reading.dates });
  if (listIdOf(field) !== undefined && text.trim() && text.trim() !== "0" && value === null)
    throw invalid(field, `no item "${text.trim()}" in its list`);
  const errors = validateAnswer(field, value, { required: false, isEmail: looksLikeAddress });
  if (errors.length) throw invalid(field, errors.join("; "));
  return storeAnswer(field, value, reading.dates);
}

const looksLikeAddress = (text: string): boolean => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(text);

/** Characters outside the BMP cannot be stored in osTicket's utf8mb3 columns; osTicket strips them. */
export function stripAstral(text: string): string {
  return text.replace(/[\u{10000}-\u{10FFFF}]/gu, "");
}

/** The answers of an object's form entries (ordered as osTicket shows them), excluding `skip` names. */
export async function answersOf(
  em: EntityManager,
  objectType: "U" | "O",
  objectIds: readonly number[],
  skip: ReadonlySet<string>,
): Promise<Map<number, FormAnswer[]>> {
  const result = new Map<number, FormAnswer[]>();
  if (objectIds.length === 0) return result;
  const rows = await query(
    em,
    "SELECT e.object_id, v.field_id, f.form_id, f.name, f.label, f.type, v.value, v.value_id" +
      " FROM ost_form_entry e JOIN ost_form_entry_values v ON v.entry_id = e.id" +
      " JOIN ost_form_field f ON f.id = v.field_id" +
      ` WHERE e.object_type = ? AND e.object_id IN (${objectIds.map(() => "?").join(",")})` +
      " ORDER BY e.object_id, e.sort, f.sort, f.id",
    [objectType, ...objectIds],
  );
  for (const r of rows) {
    if (skip.has(str(r.name))) continue;
    const id = num(r.object_id);
    const list = result.get(id) ?? [];
    list.push(
      create(FormAnswerSchema, {
        fieldId: num(r.field_id),
        formId: num(r.form_id),
        name: str(r.name),
        label: str(r.label),
        type: str(r.type),
        ...displayedAnswer(str(r.type), str(r.value), num(r.value_id)),
      }),
    );
    result.set(id, list);
  }
  return result;
}

/** The id of an object's base form entry, creating it (sort 1, created/updated NOW()) when missing. */
export async function ensureFormEntry(
  em: EntityManager,
  formId: number,
  objectType: "U" | "O",
  objectId: number,
): Promise<{ entryId: number; created: boolean }> {
  const [existing] = await query(
    em,
    "SELECT id FROM ost_form_entry WHERE form_id = ? AND object_type = ? AND object_id = ? ORDER BY id LIMIT 1",
    [formId, objectType, objectId],
  );
  if (existing) return { entryId: num(existing.id), created: false };
  const { insertId } = await execute(
    em,
    "INSERT INTO ost_form_entry SET form_id = ?, sort = 1, created = NOW(), object_type = ?, object_id = ?," +
      " updated = NOW()",
    [formId, objectType, objectId],
  );
  return { entryId: insertId, created: true };
}

export interface CdataTarget {
  /** e.g. ost_user__cdata */
  table: string;
  /** e.g. user_id */
  key: string;
  objectId: number;
}

/**
 * Writes one answer: the value row (inserted, or updated in place), then — when the cdata table exists
 * and has the field's column — the cdata upsert ('' for empty answers, a list's item ids), as osTicket does.
 */
export async function writeAnswer(
  em: EntityManager,
  entryId: number,
  field: FormField,
  answer: StoredAnswer,
  cdata: CdataTarget,
  cdataColumns: ReadonlySet<string>,
): Promise<void> {
  await execute(
    em,
    "INSERT INTO ost_form_entry_values (entry_id, field_id, value, value_id) VALUES (?, ?, ?, ?)" +
      " ON DUPLICATE KEY UPDATE value = VALUES(value), value_id = VALUES(value_id)",
    [entryId, field.id, answer.value, answer.valueId],
  );
  const column = cdataColumn(field);
  if (!cdataColumns.has(column)) return;
  await execute(
    em,
    `INSERT INTO \`${cdata.table}\` SET \`${column}\` = ?, \`${cdata.key}\` = ? ON DUPLICATE KEY UPDATE \`${column}\` = ?`,
    [answer.cdata, cdata.objectId, answer.cdata],
  );
}

/**
 * The columns of a cdata table right now (empty when it does not exist): osTicket drops and rebuilds these
 * tables when a form changes, so they are looked up for every write, never cached.
 */
export async function cdataColumns(em: EntityManager, table: string): Promise<Set<string>> {
  const rows = await query(
    em,
    "SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
    [table],
  );
  return new Set(rows.map((r) => str(r.c)));
}

/** REPLACE INTO ost__search (when the table exists; osTicket creates it at install time). */
export async function replaceSearchRow(
  em: EntityManager,
  objectType: "U" | "O",
  objectId: number,
  title: string,
  content: string,
): Promise<void> {
  const [exists] = await query(
    em,
    "SELECT 1 AS x FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'ost__search'",
  );
  if (!exists) return;
  await execute(em, "REPLACE INTO ost__search SET object_type = ?, object_id = ?, content = ?, title = ?", [
    objectType,
    objectId,
    content,
    title,
  ]);
}

/**
 * An osTicket object with a base form entry and a cdata mirror: a user (contact form U, ost_user__cdata)
 * or an organization (form O, ost_organization__cdata).
 */
export interface FormObject {
  type: "U" | "O";
  /** Fields stored in the object's own row (its name, a user's e-mail), never set as answers. */
  ownFields: ReadonlySet<string>;
  cdata: Omit<CdataTarget, "objectId">;
  /** What errors call one of its fields: `unknown <noun> field "x"`. */
  noun: string;
}

/**
 * Maps answers by field name to field ids, each read and checked as its field stores it (answerOf);
 * unknown, own or ext-stored names are rejected, as are fields no text can answer (files, presentation).
 */
export async function answerValues(
  em: EntityManager,
  object: FormObject,
  fields: readonly FormField[],
  answers: Readonly<Record<string, string>>,
): Promise<Map<number, StoredAnswer>> {
  const given: { field: FormField; raw: string }[] = [];
  for (const [name, raw] of Object.entries(answers)) {
    const field = fields.find((f) => f.name === name);
    if (!field || object.ownFields.has(name) || isExtStored(field))
      throw new ConnectError(`unknown ${object.noun} field "${name}"`, Code.InvalidArgument);
    if (!writable(field))
      throw new ConnectError(
        `field "${field.name}" (${field.type}) cannot be set through this API`,
        Code.InvalidArgument,
      );
    given.push({ field, raw });
  }
  const values = new Map<number, StoredAnswer>();
  if (given.length === 0) return values;
  const reading = await answerReading(
    em,
    given.map((g) => g.field),
  );
  for (const { field, raw } of given) values.set(field.id, answerOf(field, raw, reading));
  return values;
}

/**
 * Writes an object's answers into its base form entry. A "new" object, or one whose entry has to be created,
 * gets a value row (and cdata) for every stored field, empty unless given, as osTicket writes a new entry;
 * "changed" answers write only the given fields (nothing without any) and bump an existing entry's `updated`.
 */
export async function writeAnswers(
  em: EntityManager,
  object: FormObject,
  form: BaseForm,
  objectId: number,
  values: ReadonlyMap<number, StoredAnswer>,
  mode: "new" | "changed",
): Promise<void> {
  if (mode === "changed" && values.size === 0) return;
  const { entryId, created } = await ensureFormEntry(em, form.formId, object.type, objectId);
  const columns = await cdataColumns(em, object.cdata.table);
  const cdata = { ...object.cdata, objectId };
  for (const field of storedFields(form)) {
    const value = values.get(field.id);
    if (value !== undefined || mode === "new" || created)
      await writeAnswer(em, entryId, field, value ?? storeAnswer(field, null), cdata, columns);
  }
  if (mode === "changed" && !created)
    await execute(em, "UPDATE ost_form_entry SET updated = NOW() WHERE id = ?", [entryId]);
}

/** The search texts of an object's stored answers, in the form's field order, empty ones left out. */
export async function searchableAnswers(
  em: EntityManager,
  objectType: "U" | "O",
  objectId: number,
): Promise<string[]> {
  const form = await baseForm(em, objectType);
  const values = await query(
    em,
    "SELECT v.field_id, v.value FROM ost_form_entry e JOIN ost_form_entry_values v ON v.entry_id = e.id" +
      " WHERE e.object_type = ? AND e.object_id = ?",
    [objectType, objectId],
  );
  const stored = new Map(values.map((v) => [num(v.field_id), v.value === null ? null : str(v.value)]));
  const dates = form.fields.some((f) => f.type === "datetime") ? await helpdeskDates(em) : undefined;
  return storedFields(form)
    .filter((f) => stored.get(f.id))
    .map((f) => storedSearchable(f, stored.get(f.id) ?? null, dates))
    .filter((t) => t !== "");
}
