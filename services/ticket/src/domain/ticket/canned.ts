/**
 * A ticket filter's "Attach Canned Response" action on a new ticket (FA_AutoCannedResponse →
 * Ticket::postCannedReply, include/class.ticket.php and include/class.canned.php): the enabled canned
 * response, its `%{ticket.*}` variables filled in, posted as the ticket's first response by
 * "SYSTEM (Canned Reply)" with the canned response's files.
 */
import { formatIcuDate } from "@ostmesh/kit/osticket/dates.ts";
import { int, str, strOrNull } from "../rows.ts";
import type { Sql } from "../sql.ts";
import { decodeSpecialChars, phpTruthyString, sanitizeRichText } from "../text/format.ts";
import { simpleHtml2Text } from "../text/html2text.ts";
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
      case "ticket":
        if (rest === "") return variables.number;
        return ticket[rest] ?? ticket[PRINTS_AS[rest] ?? rest] ?? "";
      case "url":
        return url;
      case "company":
        return rest === "" || rest === "name" ? variables.companyName : "";
      default:
        return whole;
    }
  });
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
