import { create } from "@bufbuild/protobuf";
import { type Timestamp, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type EntityManager, longBodies, longBodyFiles, query, type Row } from "@ostmesh/db";
import {
  type Actor,
  ActorSchema,
  PrincipalKind,
} from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { MessageFormat, TicketSource, TicketState } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { type TicketContext, TicketContextSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import {
  RecipientsSchema,
  type ThreadEntry,
  ThreadEntrySchema,
  ThreadEntryType,
  type Ticket,
  TicketSchema,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";

/**
 * Reads of osTicket's rows the notification service needs (tickets, thread entries, names), mapped to the
 * contract's messages. Times are read as UNIX_TIMESTAMP(...) so the DB server's zone is applied by the
 * server itself; osTicket's zero dates read as 0 and map to "absent".
 */

export const num = (v: unknown): number => (v === null || v === undefined || v === "" ? 0 : Number(v));
export const str = (v: unknown): string => (v === null || v === undefined ? "" : String(v));

/** A UNIX_TIMESTAMP() value (seconds, possibly fractional) as a Timestamp; 0/NULL = absent. */
export function timestampOf(value: unknown): Timestamp | undefined {
  const seconds = num(value);
  return seconds > 0 ? timestampFromMs(Math.round(seconds * 1000)) : undefined;
}

const STATES: Readonly<Record<string, TicketState>> = {
  open: TicketState.OPEN,
  closed: TicketState.CLOSED,
  archived: TicketState.ARCHIVED,
  deleted: TicketState.DELETED,
};

export function ticketState(state: unknown): TicketState {
  return STATES[str(state)] ?? TicketState.UNSPECIFIED;
}

const SOURCES: Readonly<Record<string, TicketSource>> = {
  web: TicketSource.WEB,
  email: TicketSource.EMAIL,
  phone: TicketSource.PHONE,
  api: TicketSource.API,
  other: TicketSource.OTHER,
};

export function ticketSource(source: unknown): TicketSource {
  return SOURCES[str(source).toLowerCase()] ?? TicketSource.UNSPECIFIED;
}

const ENTRY_TYPES: Readonly<Record<string, ThreadEntryType>> = {
  M: ThreadEntryType.MESSAGE,
  R: ThreadEntryType.RESPONSE,
  N: ThreadEntryType.NOTE,
};

/** The subject of a ticket: its ticket-form answer named "subject" (the __cdata mirror is disposable). */
const SUBJECT_SQL =
  "(SELECT v.value FROM ost_form_entry fe JOIN ost_form_entry_values v ON v.entry_id = fe.id" +
  " JOIN ost_form_field ff ON ff.id = v.field_id WHERE fe.object_type = 'T' AND fe.object_id = t.ticket_id" +
  " AND ff.name = 'subject' ORDER BY fe.id LIMIT 1)";

const TICKET_SQL =
  "SELECT t.ticket_id, t.number, t.user_id, t.status_id, t.dept_id, t.sla_id, t.topic_id, t.staff_id, t.team_id," +
  " t.email_id, t.ticket_pid, t.flags, t.ip_address, t.source, t.source_extra, t.isoverdue, t.isanswered," +
  " UNIX_TIMESTAMP(t.duedate) AS duedate, UNIX_TIMESTAMP(t.est_duedate) AS est_duedate," +
  " UNIX_TIMESTAMP(t.created) AS created, UNIX_TIMESTAMP(t.updated) AS updated," +
  " UNIX_TIMESTAMP(t.lastupdate) AS lastupdate, UNIX_TIMESTAMP(t.closed) AS closed," +
  " UNIX_TIMESTAMP(t.reopened) AS reopened, UNIX_TIMESTAMP(th.lastmessage) AS lastmessage," +
  " UNIX_TIMESTAMP(th.lastresponse) AS lastresponse, th.id AS thread_id," +
  ` ${SUBJECT_SQL} AS subject,` +
  " s.name AS status_name, s.state AS status_state, p.priority_id, p.priority_desc AS priority_name," +
  " p.priority_urgency, p.priority_color, d.name AS dept_name, ht.topic AS topic_name, sla.name AS sla_name," +
  " u.name AS user_name, u.org_id AS user_org_id, ue.address AS user_email," +
  " st.firstname AS staff_first, st.lastname AS staff_last, st.username AS staff_username, tm.name AS team_name" +
  " FROM ost_ticket t" +
  " LEFT JOIN ost_thread th ON th.object_id = t.ticket_id AND th.object_type IN ('T', 'C')" +
  " LEFT JOIN ost_ticket_status s ON s.id = t.status_id" +
  " LEFT JOIN ost_ticket__cdata cd ON cd.ticket_id = t.ticket_id" +
  " LEFT JOIN ost_ticket_priority p ON p.priority_id = cd.priority" +
  " LEFT JOIN ost_department d ON d.id = t.dept_id" +
  " LEFT JOIN ost_help_topic ht ON ht.topic_id = t.topic_id" +
  " LEFT JOIN ost_sla sla ON sla.id = t.sla_id" +
  " LEFT JOIN ost_user u ON u.id = t.user_id" +
  " LEFT JOIN ost_user_email ue ON ue.id = u.default_email_id" +
  " LEFT JOIN ost_staff st ON st.staff_id = t.staff_id" +
  " LEFT JOIN ost_team tm ON tm.team_id = t.team_id" +
  " WHERE t.ticket_id = ?";

/** ost_ticket__cdata is created lazily by osTicket; remember whether this database has it. */
const cdataKnown = new WeakMap<object, boolean>();

async function hasTicketCdata(em: EntityManager): Promise<boolean> {
  const key = em.getConnection();
  const known = cdataKnown.get(key);
  if (known !== undefined) return known;
  const rows = await query(
    em,
    "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'ost_ticket__cdata'",
  );
  cdataKnown.set(key, rows.length > 0);
  return rows.length > 0;
}

/** A ticket with the names and addresses notifications need, or undefined when it does not exist. */
export async function loadTicketRow(em: EntityManager, ticketId: number): Promise<Row | undefined> {
  const sql = (await hasTicketCdata(em))
    ? TICKET_SQL
    : TICKET_SQL.replace(" LEFT JOIN ost_ticket__cdata cd ON cd.ticket_id = t.ticket_id", "").replace(
        "p.priority_id = cd.priority",
        "1 = 0",
      );
  const [row] = await query(em, sql, [ticketId]);
  return row;
}

export function agentName(first: unknown, last: unknown): string {
  return `${str(first)} ${str(last)}`.trim().replace(/\s+/g, " ");
}

/** The contract's Ticket for a row of loadTicketRow. */
export function ticketFromRow(row: Row): Ticket {
  const staffId = num(row.staff_id);
  const teamId = num(row.team_id);
  return create(TicketSchema, {
    id: num(row.ticket_id),
    number: str(row.number),
    subject: str(row.subject),
    status: { id: num(row.status_id), name: str(row.status_name), state: ticketState(row.status_state) },
    priority: row.priority_id
      ? {
          id: num(row.priority_id),
          name: str(row.priority_name),
          urgency: num(row.priority_urgency),
          color: str(row.priority_color),
        }
      : undefined,
    department: { id: num(row.dept_id), name: str(row.dept_name) },
    helpTopic: num(row.topic_id) ? { id: num(row.topic_id), name: str(row.topic_name) } : undefined,
    sla: num(row.sla_id) ? { id: num(row.sla_id), name: str(row.sla_name) } : undefined,
    requester: {
      id: num(row.user_id),
      name: str(row.user_name),
      email: str(row.user_email),
      orgId: num(row.user_org_id),
    },
    assigneeStaff: staffId
      ? { id: staffId, name: agentName(row.staff_first, row.staff_last), username: str(row.staff_username) }
      : undefined,
    assigneeTeam: teamId ? { id: teamId, name: str(row.team_name) } : undefined,
    source: ticketSource(row.source),
    sourceExtra: str(row.source_extra),
    ipAddress: str(row.ip_address),
    isOverdue: num(row.isoverdue) === 1,
    isAnswered: num(row.isanswered) === 1,
    dueDate: timestampOf(row.duedate),
    estDueDate: timestampOf(row.est_duedate),
    createdAt: timestampOf(row.created),
    updatedAt: timestampOf(row.updated),
    lastUpdateAt: timestampOf(row.lastupdate),
    lastMessageAt: timestampOf(row.lastmessage),
    lastResponseAt: timestampOf(row.lastresponse),
    closedAt: timestampOf(row.closed),
    reopenedAt: timestampOf(row.reopened),
    threadId: num(row.thread_id),
    emailId: num(row.email_id),
    parentTicketId: num(row.ticket_pid),
    flags: num(row.flags),
  });
}

/** The routing snapshot of a ticket (overrides come from a thread event's own snapshot). */
export function ticketContext(row: Row, overrides: Partial<TicketContext> = {}): TicketContext {
  return create(TicketContextSchema, {
    ticketId: num(row.ticket_id),
    number: str(row.number),
    deptId: num(row.dept_id),
    topicId: num(row.topic_id),
    staffId: num(row.staff_id),
    teamId: num(row.team_id),
    userId: num(row.user_id),
    statusId: num(row.status_id),
    state: ticketState(row.status_state),
    ...overrides,
  });
}

/** Columns of ost_thread_entry as ENTRY_COLUMNS selects them (alias `e`). */
export const ENTRY_COLUMNS =
  "e.id, e.pid, e.thread_id, e.staff_id, e.user_id, e.type, e.flags, e.poster, e.editor, e.editor_type," +
  " e.source, e.title, e.body, e.format, e.ip_address, e.recipients," +
  " UNIX_TIMESTAMP(e.created) AS created_ts, UNIX_TIMESTAMP(e.updated) AS updated_ts";

function recipientsOf(json: unknown) {
  if (typeof json !== "string" || json === "") return undefined;
  try {
    const parsed: unknown = JSON.parse(json);
    if (!parsed || typeof parsed !== "object") return undefined;
    const list = (key: string): string[] => {
      const value: unknown = Reflect.get(parsed, key);
      return Array.isArray(value) ? value.map((v) => String(v)) : [];
    };
    return create(RecipientsSchema, { to: list("to"), cc: list("cc") });
  } catch {
    return undefined;
  }
}

/** The author of a thread entry: its agent, its end user, or SYSTEM. */
export function entryAuthor(row: Row): Actor {
  const staffId = num(row.staff_id);
  const userId = num(row.user_id);
  if (staffId)
    return create(ActorSchema, { kind: PrincipalKind.AGENT, id: staffId, displayName: str(row.poster) });
  if (userId)
    return create(ActorSchema, { kind: PrincipalKind.END_USER, id: userId, displayName: str(row.poster) });
  return create(ActorSchema, { kind: PrincipalKind.SYSTEM, displayName: str(row.poster) || "SYSTEM" });
}

/** The contract's ThreadEntry for a row selected with ENTRY_COLUMNS. */
export function entryFromRow(row: Row): ThreadEntry {
  return create(ThreadEntrySchema, {
    id: num(row.id),
    pid: num(row.pid),
    threadId: num(row.thread_id),
    type: ENTRY_TYPES[str(row.type)] ?? ThreadEntryType.UNSPECIFIED,
    poster: str(row.poster),
    staffId: num(row.staff_id),
    userId: num(row.user_id),
    title: str(row.title),
    body: str(row.body),
    format: str(row.format) === "text" ? MessageFormat.TEXT : MessageFormat.HTML,
    source: ticketSource(row.source),
    flags: num(row.flags),
    ipAddress: str(row.ip_address),
    createdAt: timestampOf(row.created_ts),
    updatedAt: timestampOf(row.updated_ts),
    author: entryAuthor(row),
    bodyInAttachment: row.body === null,
    recipients: recipientsOf(row.recipients),
  });
}

/**
 * One thread entry, or undefined; a body osTicket keeps in files (65,000 characters or more) is read from
 * them, as the staff panel shows it.
 */
export async function loadEntry(em: EntityManager, entryId: number): Promise<ThreadEntry | undefined> {
  const [row] = await query(em, `SELECT ${ENTRY_COLUMNS} FROM ost_thread_entry e WHERE e.id = ?`, [entryId]);
  if (!row) return undefined;
  const entry = entryFromRow(row);
  if (row.body === null || row.body === "") {
    const files = longBodyFiles([entryId]);
    const body = longBodies(await query(em, files.sql, files.params)).get(entryId);
    if (body !== undefined) {
      entry.body = body;
      entry.bodyInAttachment = true;
    }
  }
  return entry;
}
