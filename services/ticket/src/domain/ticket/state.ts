import { storedSearchable } from "@ostmesh/kit/osticket/forms/answers.ts";
import type { AnswerDates } from "@ostmesh/kit/osticket/forms/datetime.ts";
import { searchable } from "@ostmesh/kit/osticket/html/format.ts";
import { NotFoundError } from "../errors.ts";
import type { Lookups, TicketStatus } from "../reference/lookups.ts";
import { int, intOrNull, isRecord, json, str, strOrNull } from "../rows.ts";
import type { SearchRow } from "../search.ts";
import type { BatchRead, Row, Sql } from "../sql.ts";

/** A ticket row as the actions need it, with its thread and status. */
export interface TicketState {
  readonly id: number;
  readonly number: string;
  readonly userId: number;
  readonly statusId: number;
  readonly deptId: number;
  readonly slaId: number;
  readonly topicId: number;
  readonly staffId: number;
  readonly teamId: number;
  readonly isOverdue: boolean;
  readonly isAnswered: boolean;
  readonly duedate: string | null;
  readonly estDuedate: string | null;
  readonly closed: string | null;
  /**
   * Ticket::getThread: its own thread ('T'), else the child thread ('C') a merge turned it into (the oldest
   * should bad data hold more).
   */
  readonly threadId: number;
  /** ost_ticket.ticket_pid (the ticket it is merged into or linked to), 0 for none. */
  readonly parentId: number;
  /** ost_ticket.flags (merge and link bits, see merge.ts). */
  readonly flags: number;
  /** The parent's number ('' without a parent, or when its row is gone). */
  readonly parentNumber: string;
  /** The status row; undefined when status_id points nowhere. */
  readonly status: TicketStatus | undefined;
  /** `open`, `closed`, `archived`, `deleted` ('' without a status). */
  readonly state: string;
}

/**
 * What ticketForUpdateRead reads: the locked row, the status row its status id had in this snapshot, and
 * the locked row of the ticket it is merged into or linked to (ticket_pid), if any.
 */
export interface LockedTicketRows {
  readonly ticket: Row | undefined;
  readonly status: Row | undefined;
  readonly parent: Row | undefined;
}

/**
 * The ticket an action changes, for a round trip shared with others (then ticketStateOf): the row, locked
 * for the rest of the transaction so concurrent actions on one ticket apply one after the other,
 * and its status row — read apart, since a join would lock the status row too. The status is read by the
 * ticket's status id as this transaction's snapshot has it; should the locked (latest) row name another,
 * ticketStateOf looks that one up.
 */
export function ticketForUpdateRead(ticketId: number): BatchRead<LockedTicketRows> {
  return {
    statements: [
      {
        // The parent comes along (locked too, in primary-key order): a message to a merged child goes to
        // it, and refusals name it. Without a parent the list's second value is 0, which matches nothing.
        sql:
          "SELECT t.ticket_id, t.ticket_pid, t.flags, t.number, t.user_id, t.status_id, t.dept_id, t.sla_id," +
          " t.topic_id, t.staff_id, t.team_id, t.isoverdue, t.isanswered, t.duedate, t.est_duedate, t.closed," +
          " (SELECT th.id FROM ost_thread th WHERE th.object_id = t.ticket_id AND th.object_type IN ('T', 'C')" +
          " ORDER BY th.object_type = 'T' DESC, th.id LIMIT 1) AS thread_id" +
          " FROM ost_ticket t WHERE t.ticket_id IN" +
          " (?, COALESCE((SELECT c.ticket_pid FROM ost_ticket c WHERE c.ticket_id = ?), 0)) FOR UPDATE",
        params: [ticketId, ticketId],
      },
      {
        sql:
          "SELECT s.id, s.name, s.state, s.mode, s.properties FROM ost_ticket_status s" +
          " WHERE s.id = (SELECT t.status_id FROM ost_ticket t WHERE t.ticket_id = ?)",
        params: [ticketId],
      },
    ],
    read: ([tickets = [], statuses = []]) => {
      const ticket = tickets.find((r) => int(r, "ticket_id") === ticketId);
      const parentId = ticket ? (intOrNull(ticket, "ticket_pid") ?? 0) : 0;
      const parent =
        parentId && parentId !== ticketId ? tickets.find((r) => int(r, "ticket_id") === parentId) : undefined;
      return { ticket, status: statuses[0], parent };
    },
  };
}

/** The TicketState of what ticketForUpdateRead read (NotFoundError without the ticket or its thread). */
export async function ticketStateOf(
  rows: LockedTicketRows,
  lookups: Lookups,
  ticketId: number,
): Promise<TicketState> {
  const row = rows.ticket;
  if (!row) throw new NotFoundError("ticket", ticketId);
  const threadId = intOrNull(row, "thread_id");
  if (threadId === null) throw new NotFoundError("thread of ticket", ticketId);
  const statusId = int(row, "status_id");
  if (rows.status && int(rows.status, "id") === statusId) lookups.rememberStatus(statusId, rows.status);
  const status = await lookups.status(statusId);
  return {
    id: int(row, "ticket_id"),
    number: str(row, "number"),
    userId: int(row, "user_id"),
    statusId,
    deptId: int(row, "dept_id"),
    slaId: int(row, "sla_id"),
    topicId: int(row, "topic_id"),
    staffId: int(row, "staff_id"),
    teamId: int(row, "team_id"),
    isOverdue: int(row, "isoverdue") !== 0,
    isAnswered: int(row, "isanswered") !== 0,
    duedate: strOrNull(row, "duedate"),
    estDuedate: strOrNull(row, "est_duedate"),
    closed: strOrNull(row, "closed"),
    threadId,
    parentId: intOrNull(row, "ticket_pid") ?? 0,
    flags: int(row, "flags"),
    parentNumber: rows.parent ? str(rows.parent, "number") : "",
    status,
    state: status?.state.toLowerCase() ?? "",
  };
}

/** One stored answer of a ticket form entry, with what is needed to make it searchable. */
export interface TicketAnswer {
  readonly fieldName: string;
  readonly fieldType: string;
  readonly configuration: Readonly<Record<string, unknown>>;
  readonly value: string | null;
}

/** Searchable text of a stored answer (storedSearchable). */
export function answerSearchable(a: TicketAnswer, dates?: AnswerDates): string {
  return storedSearchable({ type: a.fieldType, configuration: a.configuration }, a.value, dates);
}

/** The ticket's `T` search row: "<number> <subject>" and its answers' searchable text, one per line. */
export function ticketSearchRow(
  ticketId: number,
  number: string,
  answers: readonly TicketAnswer[],
  dates?: AnswerDates,
): SearchRow {
  const subject = answers.find((a) => a.fieldName === "subject")?.value ?? "";
  const content = answers
    .map((a) => answerSearchable(a, dates))
    .filter((s) => s !== "" && s !== "0")
    .join("\n")
    .trim();
  return { objectType: "T", objectId: ticketId, title: `${number} ${searchable(subject)}`, content };
}

/** Reads a ticket's stored answers (all its `T` form entries) in osTicket's order. */
export async function loadTicketAnswers(tx: Sql, ticketId: number): Promise<TicketAnswer[]> {
  // Ordered here rather than in SQL: an ORDER BY across the joined tables costs MariaDB a temporary table
  // and a sort on every ticket save.
  const rows = await tx.all(
    "SELECT e.sort AS entry_sort, e.id AS entry_id, f.sort AS field_sort, f.id AS field_id, f.name, f.type," +
      " f.configuration, v.value FROM ost_form_entry e" +
      " JOIN ost_form_entry_values v ON v.entry_id = e.id JOIN ost_form_field f ON f.id = v.field_id" +
      " WHERE e.object_type = 'T' AND e.object_id = ?",
    [ticketId],
  );
  const byOsTicketOrder = (a: Row, b: Row) =>
    int(a, "entry_sort") - int(b, "entry_sort") ||
    int(a, "entry_id") - int(b, "entry_id") ||
    int(a, "field_sort") - int(b, "field_sort") ||
    int(a, "field_id") - int(b, "field_id");
  return [...rows].sort(byOsTicketOrder).map((r) => {
    const config = json(strOrNull(r, "configuration"));
    return {
      fieldName: str(r, "name"),
      fieldType: str(r, "type"),
      configuration: isRecord(config) ? config : {},
      value: strOrNull(r, "value"),
    };
  });
}

/** Rebuilds the ticket's `T` search row from the database (after every ticket save, as osTicket does). */
export async function refreshTicketSearch(
  tx: Sql,
  ticket: { id: number; number: string },
  dates?: AnswerDates,
): Promise<SearchRow> {
  return ticketSearchRow(ticket.id, ticket.number, await loadTicketAnswers(tx, ticket.id), dates);
}
