/**
 * The stored data of a known user and of an organization as the ticket filters see it: User::getFilterData
 * and Organization::getFilterData (include/class.user.php, include/class.organization.php), each entry's
 * DynamicFormEntry::getFilterData (include/class.dynamic_forms.php).
 */
import { formatPhone } from "../forms/answers.ts";
import { int, isRecord, json, str, strOrNull } from "../rows.ts";
import type { BatchRead } from "../sql.ts";
import { phpTruthyString } from "../text/format.ts";

/** `field.<id>` → the answer as the field's toString gives it. */
export type StoredFilterData = Readonly<Record<string, string>>;

/**
 * The filter data of user `userId`'s form entries and of organization `orgId`'s (0: none), in one round trip:
 * each entry's answers as `field.<id>` (an earlier entry's value kept), the contact form's `name` and `email`
 * fields standing for the user's name and default address, the organization form's `name` field for the
 * organization's name. Answers PHP finds empty ('' or '0') are left out, as getFilterData leaves them out.
 */
export function storedFilterDataRead(
  userId: number,
  orgId: number,
): BatchRead<{ user: StoredFilterData; org: StoredFilterData }> {
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
      user: userId
        ? entriesData(userRows, "U", {
            name: userRow[0] ? str(userRow[0], "name") : "",
            email: userRow[0] ? (strOrNull(userRow[0], "address") ?? "") : "",
          })
        : {},
      org: orgId ? entriesData(orgRows, "O", { name: orgRow[0] ? str(orgRow[0], "name") : "" }) : {},
    }),
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
    const decoded = json(value);
    if (isRecord(decoded)) return Object.values(decoded).map(String).join(", ");
  }
  return value;
}
