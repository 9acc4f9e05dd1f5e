/**
 * A ticket filter's "Attach Canned Response" action on a new ticket (FA_AutoCannedResponse →
 * Ticket::postCannedReply, include/class.ticket.php and include/class.canned.php): the enabled canned
 * response, its `%{ticket.*}` variables filled in, posted as the ticket's first response by
 * "SYSTEM (Canned Reply)" with the canned response's files.
 */
import { formatIcuDate } from "@ostmesh/kit/osticket/dates.ts";
import { formatPhone, listSelection } from "@ostmesh/kit/osticket/forms/answers.ts";
import { decodeSpecialChars, phpTruthyString, sanitizeRichText } from "@ostmesh/kit/osticket/html/format.ts";
import { simpleHtml2Text } from "@ostmesh/kit/osticket/text.ts";
import { int, isRecord, json, phpTruthy, str, strOrNull } from "../rows.ts";
import type { Sql } from "../sql.ts";
import type { AttachmentLink } from "../thread/entries.ts";

/** The poster osTicket records on a canned reply. */
export const CANNED_REPLY_POSTER = "SYSTEM (Canned Reply)";

export interface CannedResponse {
  readonly id: number;
  /** ost_canned_response.response: HTML as the admin panel's editor saved it. */
  readonly response: string;
  /** Its files (ost_attachment type `C`), each under the name the canned response gives it. */
  readonly files: readonly AttachmentLink[];
}

/**
 * The canned response `id` when it exists and is enabled (Canned::lookup + isEnabled; its department is not
 * looked at), with its files in one round trip. A file keeps its own name unless the canned response names
 * it otherwise (ThreadEntry::createAttachment records a name only when it differs, case-insensitively).
 */
export async function enabledCannedResponse(tx: Sql, id: number): Promise<CannedResponse | undefined> {
  return tx.read({
    statements: [
      {
        sql: "SELECT canned_id, response FROM ost_canned_response WHERE canned_id = ? AND isenabled <> 0",
        params: [id],
      },
      {
        sql:
          "SELECT a.file_id, a.name, f.name AS file_name FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id" +
          " WHERE a.type = 'C' AND a.object_id = ? ORDER BY a.id",
        params: [id],
      },
    ],
    read: ([canned = [], files = []]) => {
      const row = canned[0];
      if (!row) return undefined;
      return {
        id: int(row, "canned_id"),
        response: str(row, "response"),
        files: files.map((f) => {
          const name = strOrNull(f, "name") || str(f, "file_name");
          return {
            fileId: int(f, "file_id"),
            name: asciiLower(name) === asciiLower(str(f, "file_name")) ? null : name,
          };
        }),
      };
    },
  });
}

/**
 * Links the canned response's files to the reply (non-inline `H` attachments, each file once). A file the
 * reply cannot take (ost_attachment's unique file_id + object_id, already held by the canned response whose
 * id the reply's happens to share) is left out, as osTicket's failed Attachment::save leaves it out.
 */
export function linkCannedFiles(tx: Sql, entryId: number, files: readonly AttachmentLink[]): void {
  const unique = [...new Map(files.map((f) => [f.fileId, f])).values()];
  if (!unique.length) return;
  tx.later(
    `INSERT IGNORE INTO ost_attachment (object_id, file_id, name, inline, type) VALUES ${unique
      .map(() => "(?, ?, ?, 0, 'H')")
      .join(", ")}`,
    unique.flatMap((f) => [entryId, f.fileId, f.name ?? null]),
  );
}

function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/** What `%{ticket.*}`, `%{url}` and `%{company.name}` stand for in a canned response on the new ticket. */
export interface CannedTicketVariables {
  readonly ticketId: number;
  readonly number: string;
  readonly subject: string;
  readonly ownerName: string;
  readonly ownerEmail: string;
  readonly source: string;
  readonly deptName: string;
  readonly topicName: string;
  readonly statusName: string;
  readonly priorityDesc: string;
  readonly slaName: string;
  readonly staffName: string;
  readonly teamName: string;
  /** Epoch seconds. */
  readonly created: number;
  readonly dueEpoch: number | null;
  readonly closedEpoch: number | null;
  /** helpdesk_url (Config::getBaseUrl drops its trailing slashes). */
  readonly helpdeskUrl: string;
  readonly companyName: string;
  readonly dateTimePattern: string;
  readonly timeZone: string;
  /** What the response names of the stored ticket (cannedTicketData); absent: those variables are empty. */
  readonly stored?: CannedStoredValues;
}

/**
 * Values Ticket::getVar finds through the ticket's stored rows: its forms' answers by field name, the owner's
 * phone, the recipient list.
 */
export interface CannedStoredValues {
  /**
   * The ticket's form answers as DynamicFormEntryAnswer::asVar prints them, by lower-cased field name (the
   * last by field order when two forms share a name); `false` leaves the variable as written (an unchecked
   * checkbox, whose asVar is PHP false). Field types whose asVar gives an object are not listed.
   */
  readonly answers: ReadonlyMap<string, string | false>;
  /** Ticket::getPhoneNumber: the owner's `phone` answer as PhoneField::toString shows it. */
  readonly phone: string;
  /** Ticket::getRecipients(): the owner, then the active collaborators. */
  readonly recipients: readonly { readonly name: string; readonly email: string }[];
}

/** Ticket::getVar's own tags, which no form answer of the same name overrides. */
const OWN_TAGS = new Set([
  "phone",
  "phone_number",
  "auth_token",
  "client_link",
  "staff_link",
  "create_date",
  "due_date",
  "close_date",
  "last_update",
  "user",
]);

const TAG = /(?:%\{|%%7B)ticket\.([A-Za-z_][\w.]*)(?:\}|%7D)/g;

/**
 * Reads what a canned response names of the new ticket's stored rows, in one round trip (a second one for
 * the items of a named list answer), or nothing when it names none of them. Runs in the create's transaction
 * after its writes, which travel ahead of it.
 */
export async function cannedTicketData(
  tx: Sql,
  response: string,
  ticket: { readonly ticketId: number; readonly userId: number; readonly threadId: number },
): Promise<CannedStoredValues | undefined> {
  const tags = new Set<string>();
  for (const m of response.matchAll(TAG)) {
    let name = m[1] ?? "";
    try {
      name = decodeURIComponent(name);
    } catch {
      // kept as written
    }
    tags.add((name.split(".")[0] ?? "").toLowerCase());
  }
  const wantsAnswers = [...tags].some((t) => !OWN_TAGS.has(t));
  const wantsPhone = tags.has("phone") || tags.has("phone_number");
  const wantsRecipients = tags.has("recipients");
  if (!wantsAnswers && !wantsPhone && !wantsRecipients) return undefined;
  const [answerRows = [], phoneRows = [], recipientRows = []] = await tx.batch([
    {
      sql: wantsAnswers
        ? "SELECT f.name, f.type, v.value FROM ost_form_entry e JOIN ost_form_entry_values v ON v.entry_id = e.id" +
          " JOIN ost_form_field f ON f.id = v.field_id WHERE e.object_type = 'T' AND e.object_id = ?" +
          " ORDER BY f.sort, f.id"
        : "SELECT 1 FROM DUAL WHERE ? = 0",
      params: [wantsAnswers ? ticket.ticketId : 1],
    },
    {
      sql:
        "SELECT v.value, f.configuration FROM ost_form_entry e JOIN ost_form_entry_values v ON v.entry_id = e.id" +
        " JOIN ost_form_field f ON f.id = v.field_id WHERE e.object_type = 'U' AND e.object_id = ? AND f.name = 'phone'" +
        " ORDER BY e.id LIMIT 1",
      params: [wantsPhone ? ticket.userId : 0],
    },
    {
      sql:
        "SELECT 0 AS collaborator, 0 AS id, u.name, m.address FROM ost_user u LEFT JOIN ost_user_email m ON m.id = u.default_email_id" +
        " WHERE u.id = ? UNION ALL SELECT 1, c.id, u.name, m.address FROM ost_thread_collaborator c JOIN ost_user u ON u.id = c.user_id" +
        " LEFT JOIN ost_user_email m ON m.id = u.default_email_id WHERE c.thread_id = ? AND c.flags & 1" +
        " ORDER BY collaborator, id",
      params: wantsRecipients ? [ticket.userId, ticket.threadId] : [0, 0],
    },
  ]);

  const answers = new Map<string, string | false>();
  const listAnswers: { name: string; listId: number; ids: number[] }[] = [];
  for (const row of answerRows) {
    const name = str(row, "name").toLowerCase();
    if (!name || !tags.has(name)) continue;
    const type = str(row, "type");
    const value = strOrNull(row, "value");
    const list = /^list-(\d+)$/.exec(type);
    if (list) {
      const ids = [...(listSelection(value)?.keys() ?? [])].map(Number).filter((id) => id > 0);
      listAnswers.push({ name, listId: Number(list[1]), ids });
      answers.set(name, "");
      continue;
    }
    const shown = answerAsVar(type, value);
    if (shown === undefined) answers.delete(name);
    else answers.set(name, shown);
  }
  for (const answer of listAnswers)
    answers.set(answer.name, await listItemValues(tx, answer.listId, answer.ids));

  const phoneRow = phoneRows[0];
  const phoneConfig = phoneRow ? json(strOrNull(phoneRow, "configuration")) : undefined;
  return {
    answers,
    phone: phoneRow
      ? formatPhone(str(phoneRow, "value"), isRecord(phoneConfig) ? (phoneConfig.format ?? "us") : "us")
      : "",
    recipients: wantsRecipients
      ? recipientRows.map((r) => ({ name: str(r, "name"), email: str(r, "address") }))
      : [],
  };
}

/**
 * FormField::asVar of a stored answer, for the field types whose asVar gives text: text, memo, phone (the
 * stored digits, as to_php leaves them) as stored; a checkbox `1` when checked, PHP false when
 * not; choices their labels joined by ", " (ChoiceField::toString). Other types: undefined.
 */
function answerAsVar(type: string, value: string | null): string | false | undefined {
  switch (type) {
    case "text":
    case "memo":
    case "phone":
      return value ?? "";
    case "bool":
      return phpTruthy(value) ? "1" : false;
    case "choices": {
      const selection = listSelection(value);
      return selection ? [...selection.values()].join(", ") : (value ?? "");
    }
    default:
      return undefined;
  }
}

/**
 * SelectionField::asVar: the selected items as the list holds them now (their values), in the list's order
 * (sort_mode: Alpha, -Alpha, SortCol; else as stored), joined by "," (PlaceholderList).
 */
async function listItemValues(tx: Sql, listId: number, ids: readonly number[]): Promise<string> {
  if (!ids.length) return "";
  const list = await tx.first("SELECT sort_mode FROM ost_list WHERE id = ?", [listId]);
  const order =
    { Alpha: "value", "-Alpha": "value DESC", SortCol: "sort" }[list ? str(list, "sort_mode") : ""] ?? "id";
  const rows = await tx.all(
    `SELECT value FROM ost_list_items WHERE list_id = ? AND id IN (${ids.map(() => "?").join(", ")}) ORDER BY ${order}, id`,
    [listId, ...ids],
  );
  return rows.map((r) => str(r, "value")).join(",");
}

function splitName(name: string): { first: string; last: string } {
  const parts = name.trim().split(/\s+/);
  return { first: parts[0] ?? "", last: parts.slice(1).join(" ") };
}

/** The `%{ticket.<tag>}` values (lower case; an object's own `%{ticket.dept}` is its `.name`). */
function ticketValues(v: CannedTicketVariables): Record<string, string> {
  const base = v.helpdeskUrl.replace(/\/+$/, "");
  const date = (epoch: number | null) =>
    epoch === null ? "" : formatIcuDate(epoch, v.dateTimePattern, v.timeZone);
  const name = splitName(v.ownerName);
  return {
    id: String(v.ticketId),
    number: v.number,
    subject: v.subject,
    name: v.ownerName,
    "name.first": name.first,
    "name.last": name.last,
    "name.full": v.ownerName,
    email: v.ownerEmail,
    source: v.source,
    "dept.name": v.deptName,
    "topic.name": v.topicName,
    "status.name": v.statusName,
    "priority.desc": v.priorityDesc,
    "priority.name": v.priorityDesc,
    "sla.name": v.slaName,
    "staff.name": v.staffName,
    "team.name": v.teamName,
    assigned: v.staffName || v.teamName,
    create_date: date(v.created),
    last_update: date(v.created),
    due_date: date(v.dueEpoch),
    close_date: date(v.closedEpoch),
    client_link: `${base}/view.php?t=${v.number}`,
    staff_link: `${base}/scp/tickets.php?id=${v.ticketId}`,
  };
}

/** Objects that print themselves by a property: `%{ticket.dept}` is the department's name. */
const PRINTS_AS: Readonly<Record<string, string>> = {
  dept: "dept.name",
  topic: "topic.name",
  status: "status.name",
  priority: "priority.desc",
  sla: "sla.name",
  staff: "staff.name",
  team: "team.name",
};

/**
 * Ticket::replaceVars over a canned response (VariableReplacer): `%{…}` (or `%%7B…%7D`, as the editor leaves
 * them in links) with the ticket's values; a tag the ticket does not have becomes empty, a variable of an
 * unknown object stays as written. Values go in as they are (the body is sanitised afterwards).
 */
export function replaceCannedVariables(text: string, variables: CannedTicketVariables): string {
  const ticket = ticketValues(variables);
  const url = variables.helpdeskUrl.replace(/\/+$/, "");
  return text.replace(/(?:%\{|%%7B)([A-Za-z_][\w.]+)(?:\}|%7D)/g, (whole, encodedName: string) => {
    let name: string;
    try {
      name = decodeURIComponent(encodedName);
    } catch {
      name = encodedName;
    }
    const dot = name.indexOf(".");
    const root = dot === -1 ? name : name.slice(0, dot);
    const rest = dot === -1 ? "" : name.slice(dot + 1).toLowerCase();
    switch (root) {
      case "ticket": {
        if (rest === "") return variables.number;
        const stored = storedValue(variables.stored, rest);
        if (stored === false) return whole;
        if (stored !== undefined) return stored;
        return ticket[rest] ?? ticket[PRINTS_AS[rest] ?? rest] ?? "";
      }
      case "url":
        return url;
      case "company":
        return rest === "" || rest === "name" ? variables.companyName : "";
      default:
        return whole;
    }
  });
}

/**
 * `%{ticket.<tag>…}` as Ticket::getVar resolves it through stored rows: the phone tags, a form answer by
 * name (any sub-tag of one is empty), the recipient list (`.names`, `.emails`, `.full`). Undefined for the
 * tags the ticket's columns answer.
 */
function storedValue(stored: CannedStoredValues | undefined, rest: string): string | false | undefined {
  const [tag = "", ...more] = rest.split(".");
  const sub = more.join(".");
  if (tag === "phone" || tag === "phone_number") return sub ? "" : (stored?.phone ?? "");
  if (OWN_TAGS.has(tag) || !stored) return tag === "recipients" ? "" : undefined;
  const answer = stored.answers.get(tag);
  if (answer !== undefined) return sub ? "" : answer;
  if (tag !== "recipients") return undefined;
  const people = stored.recipients;
  switch (sub) {
    case "":
    case "names":
      return people.map((p) => p.name).join(", ");
    case "emails":
      return people.map((p) => p.email).join(", ");
    case "full":
      return people.map((p) => `${p.name} <${p.email}>`).join(", ");
    default:
      return "";
  }
}

/** The company form's name (Company::getName), read only when a canned response names `%{company…}`. */
export async function companyName(tx: Sql): Promise<string> {
  const row = await tx.first(
    "SELECT v.value FROM ost_form_entry e JOIN ost_form_entry_values v ON v.entry_id = e.id" +
      " JOIN ost_form_field f ON f.id = v.field_id WHERE e.object_type = 'C' AND f.name = 'name' ORDER BY e.id LIMIT 1",
  );
  return row ? (strOrNull(row, "value") ?? "") : "";
}

/**
 * The canned response as text for a helpdesk with rich text off (Canned::getPlainText:
 * `Format::html2text($response, 90)`): entities of the special characters decoded and the HTML balanced,
 * then osTicket's simple conversion (1.18.1 loads no other): `<br>` a line break, `</div>` one and `</p>`
 * two (replacing the whitespace after them), tags stripped, the special characters decoded, wrapped at 90
 * bytes.
 */
export function cannedPlainText(html: string): string {
  if (!phpTruthyString(html)) return html;
  return simpleHtml2Text(sanitizeRichText(decodeSpecialChars(html)), 90);
}
