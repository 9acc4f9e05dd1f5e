/**
 * The stored data of a known user and of an organization as the ticket filters see it: User::getFilterData
 * and Organization::getFilterData (include/class.user.php, include/class.organization.php), each entry's
 * DynamicFormEntry::getFilterData (include/class.dynamic_forms.php).
 */

import { formatPhone } from "@ostmesh/kit/osticket/forms/answers.ts";
import { phpTruthyString } from "@ostmesh/kit/osticket/html/format.ts";
import { int, isRecord, json, str, strOrNull } from "../rows.ts";
import type { BatchRead, Row, Sql } from "../sql.ts";

/** `field.<id>` → the answer as the field's toString gives it. */
export type StoredFilterData = Readonly<Record<string, string>>;

/**
 * The filter data of user `userId`'s form entries and of organization `orgId`'s (0: none): each entry's
 * answers as `field.<id>` (an earlier entry's value kept), the contact form's `name` and `email` fields
 * standing for the user's name and default address, the organization form's `name` field for the
 * organization's name. Answers PHP finds empty ('' or '0') are left out, as getFilterData leaves them out.
 * With `listItems` (a rule names a `field.<id>.<sub>`), a list field's selected items add their properties
 * as `field.<id>.<property field id>` and their abbreviation as `field.<id>.abb` (ChoiceField's
 * getFilterData with DynamicListItem::getFilterData; several items' values joined by a space), at the cost
 * of a second round trip when a list answer has items.
 */
export async function storedFilterData(
  tx: Sql,
  userId: number,
  orgId: number,
  listItems: boolean,
): Promise<{ user: StoredFilterData; org: StoredFilterData }> {
  const stored = await tx.read(storedAnswersRead(userId, orgId));
  const itemIds = listItems
    ? [...stored.userRows, ...stored.orgRows].flatMap((row) => selectedItemIds(row))
    : [];
  const items = await listItemFilterData(tx, itemIds);
  return {
    user: userId ? entriesData(stored.userRows, "U", stored.userSpecial, items) : {},
    org: orgId ? entriesData(stored.orgRows, "O", stored.orgSpecial, items) : {},
  };
}

interface StoredAnswers {
  readonly userRows: readonly Row[];
  readonly userSpecial: Readonly<Record<string, string>>;
  readonly orgRows: readonly Row[];
  readonly orgSpecial: Readonly<Record<string, string>>;
}

function storedAnswersRead(userId: number, orgId: number): BatchRead<StoredAnswers> {
  const answers =
    "SELECT e.id AS entry_id, fo.type AS form_type, ff.id AS field_id, ff.type, ff.name, ff.configuration, a.value" +
    " FROM ost_form_entry e JOIN ost_form fo ON fo.id = e.form_id" +
    " JOIN ost_form_field ff ON ff.form_id = e.form_id" +
    " LEFT JOIN ost_form_entry_values a ON a.entry_id = e.id AND a.field_id = ff.id" +
    " WHERE e.object_type = ? AND e.object_id = ? ORDER BY e.sort, e.id, ff.sort, ff.id";
  return {
    statements: [
      { sql: answers, params: ["U", userId] },
      {
        sql:
          "SELECT u.name, e.address FROM ost_user u LEFT JOIN ost_user_email e ON e.id = u.default_email_id" +
          " WHERE u.id = ?",
        params: [userId],
      },
      { sql: answers, params: ["O", orgId] },
      { sql: "SELECT name FROM ost_organization WHERE id = ?", params: [orgId] },
    ],
    read: ([userRows = [], userRow = [], orgRows = [], orgRow = []]) => ({
      userRows,
      userSpecial: {
        name: userRow[0] ? str(userRow[0], "name") : "",
        email: userRow[0] ? (strOrNull(userRow[0], "address") ?? "") : "",
      },
      orgRows,
      orgSpecial: { name: orgRow[0] ? str(orgRow[0], "name") : "" },
    }),
  };
}

/** A list item's filter data: `.<property field id>` → the property as its field prints it, and `.abb`. */
export type ItemData = ReadonlyMap<string, string>;

/** The filter data of list items by id (DynamicListItem::getFilterData), in one round trip; none: no read. */
export async function listItemFilterData(
  tx: Sql,
  itemIds: readonly number[],
): Promise<ReadonlyMap<number, ItemData>> {
  return itemIds.length ? tx.read(listItemsRead(itemIds)) : new Map<number, ItemData>();
}

/**
 * ChoiceField::getFilterData's sub-fields of a list answer `key` (`field.<id>`) selecting `itemIds`, in the
 * answer's order: each item's properties as `<key>.<property field id>` and its abbreviation as
 * `<key>.abb`, the first item's value, each further item's appended after a space.
 */
export function listSubFieldData(
  key: string,
  itemIds: readonly number[],
  items: ReadonlyMap<number, ItemData>,
  into: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  for (const itemId of itemIds)
    for (const [sub, text] of items.get(itemId) ?? []) {
      const subKey = `${key}${sub}`;
      into[subKey] = subKey in into ? `${into[subKey]} ${text}` : text;
    }
  return into;
}

/**
 * The item ids a stored list answer selects (its `{"<item id>": "<label>"}` JSON), in the answer's order (as
 * PHP keeps it; a JS object would sort integer keys).
 */
function selectedItemIds(row: Row): number[] {
  if (!str(row, "type").startsWith("list-")) return [];
  return (orderedEntries(strOrNull(row, "value")) ?? []).map(([id]) => Number(id)).filter((id) => id > 0);
}

/**
 * A JSON object's entries in the text's order, as PHP's json_decode keeps them (a JS object puts integer
 * keys first, sorted): its top-level keys are read with a prefix that keeps them from being integers.
 */
function orderedEntries(text: string | null): [string, unknown][] | undefined {
  if (!isRecord(json(text))) return undefined;
  const marked = json((text ?? "").replace(/([{,]\s*)"(\d+)"(\s*:)/g, '$1"#$2"$3'));
  if (!isRecord(marked)) return undefined;
  return Object.entries(marked).map(([key, value]) => [key.startsWith("#") ? key.slice(1) : key, value]);
}

/**
 * DynamicListItem::getFilterData of each item (looked up by id, whatever list it is in; an item of no list
 * is skipped): every field of its list's properties form (ost_form type `L<list id>`) as it prints the
 * item's stored property ('' when unset), then `.abb`, the item's `extra`.
 */
function listItemsRead(itemIds: readonly number[]): BatchRead<Map<number, ItemData>> {
  const ids = [...new Set(itemIds)];
  const marks = ids.map(() => "?").join(", ");
  return {
    statements: [
      {
        sql: `SELECT id, list_id, extra, properties FROM ost_list_items WHERE id IN (${marks}) AND list_id <> 0`,
        params: ids,
      },
      {
        sql:
          "SELECT DISTINCT fo.id AS form_id, fo.type AS form_type, ff.id, ff.sort, ff.type, ff.configuration" +
          " FROM ost_list_items i JOIN ost_form fo ON fo.type = CONCAT('L', i.list_id)" +
          ` JOIN ost_form_field ff ON ff.form_id = fo.id WHERE i.id IN (${marks}) ORDER BY fo.id, ff.sort, ff.id`,
        params: ids,
      },
    ],
    read: ([items = [], fields = []]) => {
      const byId = new Map<number, ItemData>();
      for (const item of items) {
        const properties = json(strOrNull(item, "properties"));
        const config = isRecord(properties) ? properties : {};
        const data = new Map<string, string>();
        for (const field of fields) {
          if (str(field, "form_type") !== `L${int(item, "list_id")}`) continue;
          const id = String(int(field, "id"));
          const value = config[id];
          const stored =
            value === undefined || value === null
              ? null
              : typeof value === "string"
                ? value
                : JSON.stringify(value);
          data.set(`.${id}`, answerString(str(field, "type"), field.configuration, stored));
        }
        data.set(".abb", strOrNull(item, "extra") ?? "");
        byId.set(int(item, "id"), data);
      }
      return byId;
    },
  };
}

/**
 * `$vars += $entry->getFilterData()` over the entries in order; in an entry of the owner's own form type the
 * fields named in `special` take the owner's values instead of their answers.
 */
function entriesData(
  rows: readonly Record<string, unknown>[],
  ownType: string,
  special: Readonly<Record<string, string>>,
  items: ReadonlyMap<number, ItemData>,
): StoredFilterData {
  const data: Record<string, string> = {};
  const byEntry = new Map<number, Record<string, string>>();
  for (const row of rows) {
    const entryId = int(row, "entry_id");
    const entry = byEntry.get(entryId) ?? {};
    byEntry.set(entryId, entry);
    const key = `field.${int(row, "field_id")}`;
    const name = str(row, "name");
    const value =
      str(row, "form_type") === ownType && name in special
        ? (special[name] ?? "")
        : answerString(str(row, "type"), row.configuration, strOrNull(row, "value"));
    // getFilterData skips what PHP finds empty; the owner's name and address are set as they are.
    if (phpTruthyString(value) || (str(row, "form_type") === ownType && name in special)) entry[key] = value;
    if (items.size) listSubFieldData(key, selectedItemIds(row), items, entry);
  }
  for (const entry of byEntry.values())
    for (const [k, v] of Object.entries(entry)) if (!(k in data)) data[k] = v;
  return data;
}

/** A stored answer as its field's toString shows it (PhoneField formats, choices list their labels). */
function answerString(type: string, configuration: unknown, value: string | null): string {
  if (value === null) return "";
  if (type === "phone") {
    const config = json(typeof configuration === "string" ? configuration : null);
    return formatPhone(value, isRecord(config) && "format" in config ? config.format : "us");
  }
  if (type === "choices" || type.startsWith("list-")) {
    const entries = orderedEntries(value);
    if (entries) return entries.map(([, label]) => String(label)).join(", ");
  }
  return value;
}
