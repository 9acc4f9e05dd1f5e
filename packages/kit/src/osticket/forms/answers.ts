import {
  cleanTextAnswer,
  htmlChars,
  htmlSearchable,
  phpTruthyString,
  sanitizeRichText,
  searchable,
} from "../html/format.ts";
import { isNumeric, isRecord, json, phpJsonEncode } from "../php.ts";
import { type AnswerDates, dateAnswerText, widgetDate } from "./datetime.ts";
import type { FormField } from "./fields.ts";
import { type PhpInput, typedChoiceAnswer, typedListAnswer } from "./typed.ts";

/** What one answer writes: the ost_form_entry_values row, the cdata column, the search text. */
export interface StoredAnswer {
  readonly fieldId: number;
  readonly value: string | null;
  readonly valueId: number | null;
  /** Value of the field's `__cdata` column ('' for an empty answer, never NULL). */
  readonly cdata: string;
  /** Searchable text for ost__search ('' = not indexed). */
  readonly searchable: string;
}

/** A field's cleaned value (null = not answered). */
export type CleanValue = string | null;

const FORMULA_ERROR = "Content cannot start with the following characters: = - + @";

function config<T>(field: FormField, key: string, fallback: T): T | unknown {
  return key in field.configuration ? field.configuration[key] : fallback;
}

/** Validator::is_formula: text may not start with = - + @ (except "+<digits>"). */
export function isFormulaSafe(text: string): boolean {
  return /^[^=+@-]/su.test(text) || /^\+\d+$/.test(text);
}

/** The choices of a `choices` field: `key:label` per line (a bare line is its own key). */
export function fieldChoices(field: FormField): Map<string, string> {
  return choicesOf(field.configuration);
}

function choicesOf(configuration: Readonly<Record<string, unknown>>): Map<string, string> {
  const raw = "choices" in configuration ? configuration.choices : "";
  const choices = new Map<string, string>();
  if (typeof raw !== "string") return choices;
  for (const line of raw.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const colon = line.indexOf(":");
    const key = (colon === -1 ? line : line.slice(0, colon)).trim();
    const label = (colon === -1 ? line : line.slice(colon + 1)).trim();
    choices.set(key, label);
  }
  return choices;
}

/** An item of a custom list (ost_list_items), as a list field (`list-<list id>`) selects it. */
export interface ListItem {
  readonly id: number;
  readonly listId: number;
  readonly value: string;
  /** The abbreviation ('' for none). */
  readonly extra: string;
  /** `status` bit 1: offered to choose from. Disabled items are still found by value or abbreviation. */
  readonly enabled: boolean;
}

/** An `ost_list_items` row (id, list_id, value, extra, status) as a ListItem. */
export function listItemOf(row: Readonly<Record<string, unknown>>): ListItem {
  return {
    id: Number(row.id),
    listId: Number(row.list_id),
    value: String(row.value ?? ""),
    extra: String(row.extra ?? ""),
    enabled: (Number(row.status) & 1) !== 0,
  };
}

/** What reading an answer needs besides the text: the lists' items, and how dates are read. */
export interface AnswerContext {
  /** Items by list id, in the list's order; a list field whose list is missing here is taken as sent. */
  readonly listItems?: ReadonlyMap<number, readonly ListItem[]>;
  /** Dates are stored as the date picker writes them (without: as sent). */
  readonly dates?: AnswerDates;
  /**
   * Legacy answers by field name as PHP holds them (LegacyOptions.typed_answers; the others as their text):
   * choice fields read every one, list fields those that are not text, as osTicket does (typedChoiceAnswer,
   * typedListAnswer).
   */
  readonly typed?: ReadonlyMap<string, PhpInput>;
  /**
   * The values come from osTicket's legacy API, as its JSON and XML parsers decode them: only the `phone`
   * key is upper-cased there (the gateway does the same), so another phone field's lowercase `x` is no
   * extension separator (PhoneField::parse keeps digits and `X`). Other callers' `x` is one.
   */
  readonly legacy?: boolean;
}

/** The list a list field selects from (SelectionField::getListId: `list-<id>`). */
export function listIdOf(field: FormField): number | undefined {
  const match = /^list-(\d+)$/.exec(field.type);
  return match ? Number(match[1]) : undefined;
}

/** A PHP array key that is an integer ("2", not "02" or " 2"). */
const INT_KEY = /^(?:0|-?[1-9]\d*)$/;

/** MySQL's comparison of the item's value or abbreviation (case-insensitive, trailing spaces ignored). */
const sqlEquals = (a: string, b: string) => a.trimEnd().toLowerCase() === b.trimEnd().toLowerCase();

/**
 * The list item an answer names, as SelectionField reads one text: its widget (the drop-down: an enabled
 * item's id, an enabled item's value as sent, any item's value, any item's abbreviation; the typeahead: an
 * enabled item's id or any item's abbreviation; the text box: by value or abbreviation, then an enabled
 * item's id), then `parse` (an enabled item's id, any item's abbreviation, which the widgets tried already).
 * The API's and e-mail's Ticket::create parse the ticket form's values first, yet what it stores is what the
 * widget read (osTicket's PHP stores `S` for an item valued `S` though another's abbreviation is `S`). An
 * item found nowhere is dropped, as osTicket drops it (no error of its own).
 */
export function selectListItem(
  field: FormField,
  raw: string,
  items: readonly ListItem[],
): ListItem | undefined {
  if (!raw || raw === "0") return undefined;
  const enabledById = () =>
    INT_KEY.test(raw) ? items.find((i) => i.enabled && i.id === Number(raw)) : undefined;
  const enabledByValue = () => items.find((i) => i.enabled && i.value === raw);
  const byValue = () => items.find((i) => sqlEquals(i.value, raw));
  const byExtra = () => items.find((i) => i.extra !== "" && sqlEquals(i.extra, raw));
  const widget = config(field, "widget", "dropdown");
  const lookups =
    widget === "typeahead"
      ? [enabledById, byExtra]
      : widget === "textbox"
        ? [enabledByValue, byValue, byExtra, enabledById]
        : [enabledById, enabledByValue, byValue, byExtra];
  for (const lookup of lookups) {
    const item = lookup();
    if (item) return item;
  }
  return undefined;
}

/** A list answer's selection (`{"<item id>":"<value>"}`), from its stored JSON; undefined for other text. */
export function listSelection(value: string | null): Map<string, string> | undefined {
  const parsed = value ? json(value) : undefined;
  if (!isRecord(parsed)) return undefined;
  // In the order stored (JavaScript objects would put integer keys, the item ids, in ascending order).
  return new Map(
    objectKeysInOrder(value ?? "").map((k) => {
      const v = parsed[k];
      return [k, typeof v === "string" ? v : String(v ?? "")];
    }),
  );
}

/** The keys of a JSON object text, in the order written (the text is known to be a JSON object). */
function objectKeysInOrder(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(text.slice(i, end + 1)) as string);
      expectKey = false;
      i = end;
    } else if (c === "{" || c === "[") {
      depth++;
      expectKey = depth === 1;
    } else if (c === "}" || c === "]") depth--;
    else if (c === "," && depth === 1) expectKey = true;
  }
  return [...new Set(keys)];
}

/**
 * Parses raw input the way the field type's `parse` does (emoji and tags out, phones digits-only...); with
 * a context, list items are looked up (the clean value is their JSON) and dates read as osTicket reads them.
 */
export function parseAnswer(
  field: FormField,
  raw: string | undefined,
  context: AnswerContext = {},
): CleanValue {
  const listId = listIdOf(field);
  const items = listId === undefined ? undefined : context.listItems?.get(listId);
  const typed = field.name ? context.typed?.get(field.name) : undefined;
  // A list's text answers keep the path below (Ticket::create's parse, then the widget, as for any origin).
  if (typed !== undefined && items && typeof typed !== "string") return typedListAnswer(typed, items);
  if (typed !== undefined && field.type === "choices")
    return typedChoiceAnswer(field, typed, fieldChoices(field));
  if (raw === undefined) return field.type === "bool" ? "0" : null;
  if (items) {
    const item = selectListItem(field, raw, items);
    return item ? phpJsonEncode({ [item.id]: item.value }) : null;
  }
  switch (field.type) {
    case "datetime": {
      const text = raw.trim();
      // For every origin: what the API's Ticket::create parses first is not what it stores (the picker's form).
      if (!text || !context.dates) return text || null;
      return widgetDate(text, config(field, "timezone", ""), context.dates);
    }
    case "text":
      return cleanTextAnswer(raw);
    case "memo":
      return config(field, "html", true) ? sanitizeRichText(raw) : raw;
    case "phone": {
      const digits = (context.legacy ? raw : raw.toUpperCase()).replace(/[^\dX]/g, "");
      return digits || raw;
    }
    case "bool":
      return phpTruthyString(raw) ? "1" : "0";
    default:
      return raw.trim();
  }
}

/** Format::phone: 7 digits → 555-1234, 10 digits → (555) 123-4567. */
export function formatPhone(value: string, format: unknown): string {
  const [phone = "", ext] = splitOnce(value, "X");
  let shown = phone;
  if (format === "us") {
    const d = phone.replace(/[^0-9]/g, "");
    if (d.length === 7) shown = `${d.slice(0, 3)}-${d.slice(3)}`;
    else if (d.length === 10) shown = `(${d.slice(0, 3)}) ${d.slice(3, 6)}-${d.slice(6)}`;
  }
  return ext ? `${shown} x${ext}` : shown;
}

function splitOnce(value: string, sep: string): [string, string | undefined] {
  const i = value.indexOf(sep);
  return i === -1 ? [value, undefined] : [value.slice(0, i), value.slice(i + sep.length)];
}

/** A PHP-regex validator ("/.../iu") compiled for JS, or undefined when it cannot be. */
function compileRegex(pattern: unknown): RegExp | undefined {
  if (typeof pattern !== "string" || !pattern) return undefined;
  const match = /^(.)(.*)\1([a-zA-Z]*)$/s.exec(pattern);
  try {
    if (match?.[2] !== undefined) return new RegExp(match[2], (match[3] ?? "").replace(/[^imsu]/g, ""));
    return new RegExp(pattern, "iu");
  } catch {
    return undefined;
  }
}

/**
 * Validation messages for a cleaned value (FormField::validateEntry and the type overrides). `required`
 * depends on who submits (agent vs end user); `isEmail` checks an address for `email` validators.
 */
export function validateAnswer(
  field: FormField,
  value: CleanValue,
  options: { required: boolean; isEmail: (address: string) => boolean },
): string[] {
  const errors: string[] = [];
  const v = value ?? "";
  const requiredError = `${field.label || "This"} is a required field`;
  switch (field.type) {
    case "text": {
      const checked = v === "0" ? "&#48" : htmlChars(v);
      if (options.required && !checked) errors.push(field.label ? requiredError : "This is a required field");
      if (!checked) break;
      const validator = String(config(field, "validator", "") ?? "");
      const custom = config(field, "validator-error", "");
      const customError = typeof custom === "string" && custom ? custom : undefined;
      let ok = true;
      let message = FORMULA_ERROR;
      switch (validator) {
        case "":
          ok = isFormulaSafe(checked);
          break;
        case "email":
          ok = options.isEmail(checked);
          message = "Enter a valid email address";
          break;
        case "phone": {
          const stripped = checked.replace(/[()\-.+ ]+/g, "");
          ok = isNumeric(stripped) && stripped.length >= 7 && stripped.length <= 16;
          message = "Enter a valid phone number";
          break;
        }
        case "ip":
          ok = isIp(checked.trim());
          message = "Enter a valid IP address";
          break;
        case "number":
          ok = isNumeric(checked === "&#48" ? "0" : checked);
          message = "Enter a Number";
          break;
        case "regex": {
          const re = compileRegex(config(field, "regex", ""));
          ok = re ? re.test(checked) : true;
          message = "Value does not match required pattern";
          break;
        }
        default:
          break;
      }
      if (!ok) errors.push(customError ?? message);
      break;
    }
    case "memo":
      if (options.required && !phpTruthyString(v)) errors.push(requiredError);
      if (phpTruthyString(v) && !config(field, "validator", "") && !isFormulaSafe(v))
        errors.push(FORMULA_ERROR);
      break;
    case "phone": {
      if (options.required && !phpTruthyString(v)) errors.push(requiredError);
      const [phone = "", ext] = splitOnce(v, "X");
      const digits = Number(config(field, "digits", 7)) || 7;
      // PHP truthiness: a phone of "0" is not checked (osTicket stores it).
      if (phpTruthyString(phone) && (!/^\d+$/.test(phone) || phone.length < digits))
        errors.push("Enter a valid phone number");
      if (ext !== undefined && phpTruthyString(ext) && config(field, "ext", true)) {
        if (!/^\d+$/.test(ext)) errors.push("Enter a valid phone extension");
        else if (!phpTruthyString(phone)) errors.push("Enter a phone number for the extension");
      }
      break;
    }
    case "bool":
      if (options.required && v !== "1") errors.push(requiredError);
      break;
    default:
      if (options.required && !phpTruthyString(v)) errors.push(requiredError);
      break;
  }
  return errors;
}

function isIp(text: string): boolean {
  if (/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(text)) {
    return text.split(".").every((p) => Number(p) <= 255 && String(Number(p)) === p);
  }
  return /^[0-9a-fA-F:]+$/.test(text) && text.includes(":") && text.split(":").length <= 8;
}

/**
 * The rows and mirrors one cleaned value produces. A list selection is stored as its JSON, mirrored as its
 * item ids and indexed as its values (SelectionField::getKeys, ::toString); a date is indexed as the
 * helpdesk prints it (`dates`; without them, as stored).
 */
export function storeAnswer(field: FormField, value: CleanValue, dates?: AnswerDates): StoredAnswer {
  const v = value ?? "";
  const selection = listIdOf(field) === undefined ? undefined : listSelection(v);
  if (selection)
    return {
      fieldId: field.id,
      value: v,
      valueId: null,
      cdata: [...selection.keys()].join(", "),
      searchable: searchable([...selection.values()].join(", ")),
    };
  switch (field.type) {
    case "datetime":
      return {
        fieldId: field.id,
        value: v || null,
        valueId: null,
        cdata: v,
        searchable: dates
          ? searchable(dateAnswerText(v, !!config(field, "time", false), dates))
          : searchable(v),
      };
    case "bool":
      return {
        fieldId: field.id,
        value: v === "1" ? "1" : "0",
        valueId: null,
        cdata: v === "1" ? "1" : "0",
        searchable: v === "1" ? "Yes" : "No",
      };
    case "choices": {
      if (!v) return { fieldId: field.id, value: null, valueId: null, cdata: "", searchable: "" };
      // A selection (`{"r":"Red","g":"Green"}`): its keys mirrored, its labels indexed (ChoiceField::getKeys,
      // ::toString).
      const chosen = listSelection(v);
      if (chosen)
        return {
          fieldId: field.id,
          value: v,
          valueId: null,
          cdata: [...chosen.keys()].join(", "),
          searchable: searchable([...chosen.values()].join(", ")),
        };
      const label = fieldChoices(field).get(v);
      return {
        fieldId: field.id,
        value: label === undefined ? v : phpJsonEncode({ [v]: label }),
        valueId: null,
        cdata: v,
        searchable: searchable(label ?? v),
      };
    }
    case "phone":
      return {
        fieldId: field.id,
        value: v || null,
        valueId: null,
        cdata: v,
        searchable: v ? searchable(formatPhone(v, config(field, "format", "us"))) : "",
      };
    case "memo":
      return { fieldId: field.id, value: v || null, valueId: null, cdata: v, searchable: htmlSearchable(v) };
    default:
      return { fieldId: field.id, value: v || null, valueId: null, cdata: v, searchable: searchable(v) };
  }
}

/**
 * Searchable text of a stored answer (FormField::searchable per type; priorities and threads are not
 * indexed): a list selection's or a choice's labels, a date as the helpdesk prints it (`dates`; without
 * them, as stored), a phone as Format::phone shows it, rich text without its markup.
 */
export function storedSearchable(
  field: Pick<FormField, "type" | "configuration">,
  value: string | null,
  dates?: AnswerDates,
): string {
  const v = value ?? "";
  if (/^list-\d+$/.test(field.type)) {
    const selection = listSelection(v);
    return searchable(selection ? [...selection.values()].join(", ") : v);
  }
  switch (field.type) {
    case "datetime":
      return searchable(dates ? dateAnswerText(v, !!field.configuration.time, dates) : v);
    case "priority":
    case "thread":
      return "";
    case "memo":
      return htmlSearchable(v);
    case "bool":
      return v && v !== "0" ? "Yes" : "No";
    case "choices": {
      const parsed = json(v);
      if (isRecord(parsed)) return searchable(Object.values(parsed).map(String).join(", "));
      return searchable(choicesOf(field.configuration).get(v) ?? v);
    }
    case "phone":
      return searchable(formatPhone(v, field.configuration.format ?? "us"));
    default:
      return searchable(v);
  }
}

/**
 * An answer as people read it: a choice or list answer is stored as `{"<key>":"<label>"}`, shown as its
 * labels joined by ", " (ChoiceField::toString, SelectionField::toString); a list answer's value_id is
 * NULL, so its item id is given from the key when one item is selected.
 */
export function displayedAnswer(
  type: string,
  value: string,
  storedId: number,
): { value: string; valueId: number } {
  // value_id is a signed column osTicket fills as sent (a legacy priorityId): no item has a negative id.
  const valueId = storedId > 0 && storedId <= 0xffffffff ? storedId : 0;
  const list = /^list-\d+$/.test(type);
  if (type !== "choices" && !list) return { value, valueId };
  const selection = listSelection(value);
  if (!selection) return { value, valueId };
  const keys = [...selection.keys()];
  const single = keys.length === 1 && /^[1-9]\d*$/.test(keys[0] ?? "") ? Number(keys[0]) : 0;
  return { value: [...selection.values()].join(", "), valueId: valueId || (list ? single : 0) };
}
