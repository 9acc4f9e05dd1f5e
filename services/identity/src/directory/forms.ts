import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { EntityManager } from "@ostmesh/db";
import { execute, query } from "@ostmesh/db";
import { num, str } from "@ostmesh/kit/auth/index.ts";
import { type FormAnswer, FormAnswerSchema } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";

/**
 * osTicket's dynamic forms as the contact (U) and organization (O) forms use them (FACTS §1.8): one
 * ost_form_entry per object, one ost_form_entry_values row per stored field (even when empty), the
 * disposable `<object>__cdata` mirror upserted after each value, and the ost__search row.
 */

/** ost_form_field.flags bits (include/class.dynamic_forms.php). */
export const FieldFlags = {
  ENABLED: 0x00001,
  EXT_STORED: 0x00002,
  CLIENT_VIEW: 0x00100,
  CLIENT_EDIT: 0x00200,
  AGENT_VIEW: 0x01000,
  AGENT_EDIT: 0x02000,
} as const;

export interface FormField {
  id: number;
  formId: number;
  name: string;
  label: string;
  type: string;
  flags: number;
  sort: number;
}

export interface BaseForm {
  formId: number;
  fields: FormField[];
}

/** Field types that hold no value (osTicket's presentation-only fields). */
const PRESENTATION_TYPES = new Set(["break", "info"]);
/** Field types ostmesh can write from a plain string. */
const WRITABLE_TYPES = new Set(["text", "memo", "phone", "bool"]);

/** The base form of a type ("U" contact form, "O" organization form) with its enabled fields. */
export async function baseForm(em: EntityManager, type: "U" | "O"): Promise<BaseForm> {
  const [form] = await query(em, "SELECT id FROM ost_form WHERE type = ? ORDER BY id LIMIT 1", [type]);
  if (!form) throw new Error(`osTicket has no ${type} form`);
  const rows = await query(
    em,
    "SELECT id, form_id, name, label, type, flags, sort FROM ost_form_field WHERE form_id = ? ORDER BY sort, id",
    [form.id],
  );
  return {
    formId: num(form.id),
    fields: rows
      .map((r) => ({
        id: num(r.id),
        formId: num(r.form_id),
        name: str(r.name),
        label: str(r.label),
        type: str(r.type),
        flags: num(r.flags),
        sort: num(r.sort),
      }))
      .filter((f) => (f.flags & FieldFlags.ENABLED) !== 0),
  };
}

/** Fields whose value lives in ost_form_entry_values (not ext-stored, not presentation-only). */
export function storedFields(form: BaseForm): FormField[] {
  return form.fields.filter(
    (f) => (f.flags & FieldFlags.EXT_STORED) === 0 && !PRESENTATION_TYPES.has(f.type),
  );
}

/** A stored answer: the value row's text (null = empty) and the key mirrored into cdata and search. */
export interface AnswerValue {
  value: string | null;
}

/**
 * Cleans one answer the way the field type stores it; INVALID_ARGUMENT for a bad value or a field type
 * ostmesh cannot write from text. Phone numbers keep digits only plus `X<ext>` (`555-123-4567 x12` →
 * `5551234567X12`).
 */
export function normalizeAnswer(field: FormField, raw: string): AnswerValue {
  if (!WRITABLE_TYPES.has(field.type))
    throw new ConnectError(
      `field "${field.name}" (${field.type}) cannot be set through this API`,
      Code.InvalidArgument,
    );
  const text = stripAstral(raw).trim();
  if (text === "") return { value: null };
  switch (field.type) {
    case "phone": {
      const match = /^(.*?)(?:\s*(?:x|ext\.?)\s*(\d+))?$/i.exec(text);
      const number = match?.[1]?.trim() ?? "";
      const ext = match?.[2];
      if (!/^[0-9+() .-]+$/.test(number) || !/\d/.test(number))
        throw new ConnectError(
          `${field.label || field.name}: enter a valid phone number`,
          Code.InvalidArgument,
        );
      const digits = number.replace(/[()+. -]/g, "");
      return { value: ext ? `${digits}X${ext}` : digits };
    }
    case "bool":
      if (/^(1|true|yes|on)$/i.test(text)) return { value: "1" };
      if (/^(0|false|no|off)$/i.test(text)) return { value: "0" };
      throw new ConnectError(`${field.label || field.name}: expected true or false`, Code.InvalidArgument);
    default:
      return { value: text };
  }
}

/** osTicket's display of a stored phone value (US format): `(555) 123-4567 x12`. */
export function formatPhone(stored: string): string {
  const [number = "", ext] = stored.split("X", 2);
  let shown = number;
  if (/^\d{10}$/.test(number)) shown = `(${number.slice(0, 3)}) ${number.slice(3, 6)}-${number.slice(6)}`;
  else if (/^\d{7}$/.test(number)) shown = `${number.slice(0, 3)}-${number.slice(3)}`;
  return ext ? `${shown} x${ext}` : shown;
}

/** Searchable text of an answer (what osTicket puts into ost__search). */
export function searchText(field: FormField, value: string | null): string {
  if (!value) return "";
  return field.type === "phone" ? formatPhone(value) : value;
}

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
        value: str(r.value),
        valueId: num(r.value_id),
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
 * and has the field's column — the cdata upsert with '' for empty answers, as osTicket does.
 */
export async function writeAnswer(
  em: EntityManager,
  entryId: number,
  field: FormField,
  answer: AnswerValue,
  cdata: CdataTarget,
  cdataColumns: ReadonlySet<string>,
): Promise<void> {
  await execute(
    em,
    "INSERT INTO ost_form_entry_values (entry_id, field_id, value) VALUES (?, ?, ?)" +
      " ON DUPLICATE KEY UPDATE value = VALUES(value)",
    [entryId, field.id, answer.value],
  );
  const column = field.name || `field_${field.id}`;
  if (!cdataColumns.has(column)) return;
  await execute(
    em,
    `INSERT INTO \`${cdata.table}\` SET \`${column}\` = ?, \`${cdata.key}\` = ? ON DUPLICATE KEY UPDATE \`${column}\` = ?`,
    [answer.value ?? "", cdata.objectId, answer.value ?? ""],
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

/** Maps answers by field name to field ids, validating each; unknown, own or ext-stored names are rejected. */
export function answerValues(
  object: FormObject,
  fields: readonly FormField[],
  answers: Readonly<Record<string, string>>,
): Map<number, AnswerValue> {
  const values = new Map<number, AnswerValue>();
  for (const [name, raw] of Object.entries(answers)) {
    const field = fields.find((f) => f.name === name);
    if (!field || object.ownFields.has(name) || (field.flags & FieldFlags.EXT_STORED) !== 0)
      throw new ConnectError(`unknown ${object.noun} field "${name}"`, Code.InvalidArgument);
    values.set(field.id, normalizeAnswer(field, raw));
  }
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
  values: ReadonlyMap<number, AnswerValue>,
  mode: "new" | "changed",
): Promise<void> {
  if (mode === "changed" && values.size === 0) return;
  const { entryId, created } = await ensureFormEntry(em, form.formId, object.type, objectId);
  const columns = await cdataColumns(em, object.cdata.table);
  const cdata = { ...object.cdata, objectId };
  for (const field of storedFields(form)) {
    const value = values.get(field.id);
    if (value !== undefined || mode === "new" || created)
      await writeAnswer(em, entryId, field, value ?? { value: null }, cdata, columns);
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
  const stored = new Map(values.map((v) => [num(v.field_id), str(v.value)]));
  return storedFields(form)
    .map((f) => searchText(f, stored.get(f.id) || null))
    .filter((t) => t !== "");
}
