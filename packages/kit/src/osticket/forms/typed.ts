/**
 * Choice and list answers of the legacy API sent as something other than a string (a number, a boolean,
 * an array), read as osTicket 1.18 reads them: ChoicesWidget::getValue over the value, then the field's
 * `parse` (SelectionField::parse for a list, ChoiceField::to_php for choices) and `to_database`. The rules
 * are PHP's: array keys cast (`"501"` is the integer 501), `array_search`'s loose comparison, MySQL's
 * case-insensitive, trailing-space-blind comparison of an item's value or abbreviation.
 */
import { phpJsonEncode } from "../php.ts";
import type { ListItem } from "./answers.ts";
import type { FormField } from "./fields.ts";

/** A value as PHP holds it after decoding a legacy request (LegacyOptions.typed_answers). */
export type PhpInput =
  | string
  | number
  | boolean
  | null
  | { readonly float: number }
  | { readonly array: ReadonlyArray<readonly [string, PhpInput]> };

type Scalar = string | number | boolean | null | { readonly float: number };

const isArray = (v: PhpInput): v is { readonly array: ReadonlyArray<readonly [string, PhpInput]> } =>
  typeof v === "object" && v !== null && "array" in v;
const isFloat = (v: PhpInput): v is { readonly float: number } =>
  typeof v === "object" && v !== null && "float" in v;

/** Parses LegacyOptions.typed_answers' JSON; undefined for anything else. */
export function phpInputOf(json: string): PhpInput | undefined {
  try {
    const value: unknown = JSON.parse(json);
    return valid(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function valid(value: unknown): value is PhpInput {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value !== "object") return false;
  if ("float" in value) return typeof value.float === "number";
  if ("array" in value && Array.isArray(value.array))
    return value.array.every(
      (entry: unknown) => Array.isArray(entry) && typeof entry[0] === "string" && valid(entry[1]),
    );
  return false;
}

/** PHP truthiness. */
function truthy(v: PhpInput): boolean {
  if (v === null || v === false) return false;
  if (v === true) return true;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "string") return v !== "" && v !== "0";
  if (isFloat(v)) return v.float !== 0;
  return v.array.length > 0;
}

/** PHP's `(string)` of a scalar. */
function text(v: Scalar): string {
  if (v === null || v === false) return "";
  if (v === true) return "1";
  if (typeof v === "number") return String(v);
  if (typeof v === "string") return v;
  return String(v.float);
}

/** The array key PHP makes of a scalar (`"501"` and `501.9` are 501, true is 1, null is ""). */
function arrayKey(v: Scalar): string | number {
  if (typeof v === "string") return /^(?:0|-?[1-9]\d*)$/.test(v) ? Number(v) : v;
  if (typeof v === "number") return v;
  if (v === null) return "";
  if (typeof v === "boolean") return v ? 1 : 0;
  return Math.trunc(v.float);
}

const NUMERIC = /^[ \t\n\r\v\f]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[ \t\n\r\v\f]*$/;

/** PHP 8's `$a == $b` of a scalar and a string. */
function looseEquals(a: Scalar, b: string): boolean {
  if (a === null) return b === "";
  if (typeof a === "boolean") return a === (b !== "" && b !== "0");
  if (typeof a === "string") return NUMERIC.test(a) && NUMERIC.test(b) ? Number(a) === Number(b) : a === b;
  const n = typeof a === "number" ? a : a.float;
  return NUMERIC.test(b) ? n === Number(b) : text(a) === b;
}

/** MySQL's `=` on a utf8_general_ci column: case-insensitive, trailing spaces ignored. */
const sqlEquals = (a: string, b: string) => a.trimEnd().toLowerCase() === b.trimEnd().toLowerCase();

/** Ordered selections as PHP's json_encode writes them (`{"501":"Gold"}`). */
function selectionJson(selection: ReadonlyMap<string | number, string>): string {
  return `{${[...selection].map(([k, v]) => `${phpJsonEncode(String(k))}:${phpJsonEncode(v)}`).join(",")}}`;
}

/** What the widget hands on: the values it recognised, or the first unrecognised one as it came. */
type WidgetValue = { readonly selected: Map<string | number, string> } | { readonly raw: Scalar } | null;

/** ChoicesWidget::getValue, for `choices` (by key) and `lookup` (a list's lookupChoice; none for choices). */
function widgetValue(
  value: PhpInput,
  choices: ReadonlyMap<string | number, string>,
  lookup: (v: Scalar) => ListItem | undefined,
): WidgetValue {
  if (!truthy(value)) return null;
  const entries: ReadonlyArray<readonly [string, PhpInput]> = isArray(value) ? value.array : [["0", value]];
  const selected = new Map<string | number, string>();
  for (const [k, v] of entries) {
    // A nested array is a PHP TypeError in osTicket (the request fails); nothing here.
    if (isArray(v)) continue;
    const key = arrayKey(v);
    const label = choices.get(key);
    if (label !== undefined) {
      selected.set(key, label);
      continue;
    }
    const item = lookup(v);
    if (item) {
      if (!selected.has(item.id)) selected.set(item.id, item.value);
      continue;
    }
    if (!truthy(k) && truthy(v)) return { raw: v };
  }
  return { selected };
}

/**
 * A list field's answer (its selection's JSON, or null) for a typed legacy value: ChoicesWidget::getValue
 * (an enabled item by id, then SelectionField::lookupChoice: an enabled item's value by loose comparison,
 * any item by id for an integer, by value, by abbreviation), then SelectionField::parse (any item by the
 * key's id, an enabled item by id, any item by abbreviation).
 */
export function typedListAnswer(value: PhpInput, items: readonly ListItem[]): string | null {
  const enabled = new Map<string | number, string>(
    items.filter((i) => i.enabled).map((i) => [i.id, i.value]),
  );
  const byId = (id: number) => items.find((i) => i.id === id);
  // DynamicList::getItem: an integer is an id; other values compare with the value or the abbreviation.
  const getItem = (v: Scalar, extra: boolean): ListItem | undefined => {
    if (typeof v === "number" && Number.isInteger(v)) return byId(v);
    const t = text(v);
    return extra
      ? items.find((i) => i.extra !== "" && sqlEquals(i.extra, t))
      : items.find((i) => sqlEquals(i.value, t));
  };
  const lookupChoice = (v: Scalar): ListItem | undefined => {
    const found = items.find((i) => i.enabled && looseEquals(v, i.value));
    if (found?.id) return found;
    return getItem(v, false) ?? getItem(v, true);
  };
  const widget = widgetValue(value, enabled, lookupChoice);
  if (widget === null) return null;
  const entries: [string | number, Scalar][] =
    "selected" in widget ? [...widget.selected] : truthy(widget.raw) ? [[0, widget.raw]] : [];
  const selection = new Map<number, string>();
  for (const [k, v] of entries) {
    // The widget's keys are item ids (its raw value comes with key 0, which names nothing).
    const key = arrayKey(v);
    const item =
      (typeof k === "number" && k !== 0 ? byId(k) : undefined) ??
      (typeof key === "number" && enabled.has(key) ? byId(key) : undefined) ??
      getItem(v, true);
    if (item) selection.set(item.id, item.value);
  }
  return selection.size ? selectionJson(selection) : null;
}

/**
 * A choices field's answer for a typed legacy value: ChoicesWidget::getValue (the values that are keys of
 * the choices; else the first value as it came), ChoiceField::to_php (a JSON text decoded, a comma list
 * of keys split, a single selection of a field without multiselect reduced to its key) and ::to_database
 * (a key becomes `{"<key>":"<label>"}`, a selection its JSON, anything else its text).
 */
export function typedChoiceAnswer(
  field: FormField,
  value: PhpInput,
  choices: ReadonlyMap<string, string>,
): string | null {
  const keyed = new Map<string | number, string>([...choices].map(([k, label]) => [arrayKey(k), label]));
  const widget = widgetValue(value, keyed, () => undefined);
  let current: Map<string | number, string> | Scalar =
    widget === null ? null : "selected" in widget ? widget.selected : widget.raw;
  if (current instanceof Map ? current.size === 0 : !truthy(current)) return null;
  if (typeof current === "string") {
    const decoded = decodeJson(current);
    if (decoded !== undefined) current = decoded;
  }
  if (typeof current === "string" && current.indexOf(",") > 0) {
    const pieces = current.split(",").map((p) => p.trim());
    const picked = new Map<string | number, string>();
    for (const piece of pieces) {
      const label = keyed.get(arrayKey(piece));
      if (label !== undefined) picked.set(arrayKey(piece), label);
    }
    current = picked.size ? picked : (pieces[0] ?? current);
  }
  if (!field.configuration.multiselect && current instanceof Map && current.size < 2)
    current = current.size ? ([...current.keys()][0] ?? null) : null;
  if (current instanceof Map) return selectionJson(current);
  if (current === null) return null;
  const label = isArray(current) ? undefined : keyed.get(arrayKey(current));
  if (label !== undefined) return selectionJson(new Map([[arrayKey(current), label]]));
  return text(current);
}

/** JsonDataParser::parse of a text (`?: $value`: a falsy result keeps the text); objects as selections. */
function decodeJson(value: string): Map<string | number, string> | Scalar | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== "object") {
    const scalar = parsed as Scalar;
    return truthy(scalar) ? scalar : undefined;
  }
  const entries = Array.isArray(parsed) ? parsed.map((v, i) => [i, v] as const) : Object.entries(parsed);
  if (entries.length === 0) return undefined;
  // A decoded array goes on as data; only its keys matter from here (to_php keeps it, to_database encodes it).
  const selection = new Map<string | number, string>();
  for (const [k, v] of entries) selection.set(arrayKey(String(k)), typeof v === "string" ? v : String(v));
  return selection;
}
