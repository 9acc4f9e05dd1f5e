/**
 * Tickets as the contract describes them, read from osTicket's tables in a fixed number of queries per
 * batch whatever its size (no query per ticket): the ticket rows with their thread, owner and agent, the
 * subject and priority answers (all answers and the collaborators for full reads), names from the
 * reference snapshot. Tickets osTicket's PHP wrote read the same as ostmesh's own.
 */
import { create } from "@bufbuild/protobuf";
import type { BatchRead, EntityManager, Statement } from "@ostmesh/db";
import { query, runBatchRead } from "@ostmesh/db";
import { displayedAnswer } from "@ostmesh/kit/osticket/forms/answers.ts";
import { FormAnswerSchema } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import {
  CollaboratorSchema,
  PriorityRefSchema,
  RelatedTicketSchema,
  type Ticket,
  type TicketRelation,
  TicketRelationKind,
  TicketRelationSchema,
  TicketSchema,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { collaboratorRoleOf, sourceOf } from "../mapping.ts";
import type { ReferenceSnapshot } from "../reference.ts";
import { marks, num, type Row, str, timestamp } from "../rows.ts";

/** Collaborator flags (include/class.collaborator.php). */
const COLLAB_ACTIVE = 0x1;
const COLLAB_CC = 0x2;

/** Answers with their own Ticket fields (subject, message, priority) are not repeated in `answers`. */
const OWN_FIELDS = new Set(["subject", "message", "priority"]);

export interface LoadOptions {
  /** Also the form answers and collaborators (GetTicket and mutation responses; lists leave them out). */
  readonly full: boolean;
  /**
   * The tickets were created in the transaction reading them: no ticket is merged into or linked with them
   * yet (nothing else can name them before the commit), so their relations are not looked up, nor their
   * collaborators unless `collaborators` (the create added some).
   */
  readonly created?: { readonly collaborators: boolean };
}

const TICKET_COLUMNS =
  "t.ticket_id, t.number, t.ticket_pid, t.user_id, t.status_id, t.dept_id, t.sla_id, t.topic_id, t.staff_id," +
  " t.team_id, t.email_id, t.flags, t.ip_address, t.source, t.source_extra, t.isoverdue, t.isanswered," +
  " UNIX_TIMESTAMP(t.duedate) AS duedate, UNIX_TIMESTAMP(t.est_duedate) AS est_duedate," +
  " UNIX_TIMESTAMP(t.reopened) AS reopened, UNIX_TIMESTAMP(t.closed) AS closed," +
  " UNIX_TIMESTAMP(t.lastupdate) AS lastupdate, UNIX_TIMESTAMP(t.created) AS created," +
  " UNIX_TIMESTAMP(t.updated) AS updated," +
  " th.id AS thread_id, th.object_type AS thread_object_type, UNIX_TIMESTAMP(th.lastmessage) AS lastmessage," +
  " UNIX_TIMESTAMP(th.lastresponse) AS lastresponse," +
  " u.name AS user_name, u.org_id AS user_org_id, ue.address AS user_email," +
  " s.firstname AS staff_firstname, s.lastname AS staff_lastname, s.username AS staff_username," +
  " pt.number AS parent_number";

/** ost_ticket.flags bits of merges and links (Ticket::FLAG_*). */
const FLAG_COMBINE_THREADS = 0x01;
const FLAG_SEPARATE_THREADS = 0x02;
const FLAG_PARENT = 0x10;

/** The subject answer of ticket `r` (the ticket form's "subject" field). */
const RELATED_SUBJECT =
  "(SELECT sv.value FROM ost_form_entry sfe JOIN ost_form_entry_values sv ON sv.entry_id = sfe.id" +
  " JOIN ost_form_field sf ON sf.id = sv.field_id AND sf.name = 'subject'" +
  " WHERE sfe.object_type = 'T' AND sfe.object_id = r.ticket_id ORDER BY sfe.sort, sfe.id LIMIT 1) AS subject";

/** Loads tickets by id; the map holds only the ones that exist. */
export async function loadTickets(
  em: EntityManager,
  ref: ReferenceSnapshot,
  ids: readonly number[],
  options: LoadOptions,
): Promise<Map<number, Ticket>> {
  return runBatchRead(em, ticketsRead(ref, ids, options));
}

/**
 * loadTickets as statements for one round trip (with others, e.g. the entries a change wrote): the rows,
 * their answers and (full reads) the collaborators of every thread the tickets may have, kept only for the
 * thread each ticket reads as its own.
 */
export function ticketsRead(
  ref: ReferenceSnapshot,
  ids: readonly number[],
  options: LoadOptions,
): BatchRead<Map<number, Ticket>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return { statements: [], read: () => new Map() };
  const idList = marks(unique.length);
  const statements: Statement[] = [
    {
      sql:
        `SELECT ${TICKET_COLUMNS} FROM ost_ticket t` +
        // Ticket::getThread: its own thread ('T'), else the child thread ('C') a merge left it; should bad
        // data hold more, the oldest one wins (`read` picks; an ORDER BY here would cost a temporary table).
        " LEFT JOIN ost_thread th ON th.object_id = t.ticket_id AND th.object_type IN ('T', 'C')" +
        " LEFT JOIN ost_user u ON u.id = t.user_id" +
        " LEFT JOIN ost_user_email ue ON ue.id = u.default_email_id" +
        " LEFT JOIN ost_staff s ON s.staff_id = t.staff_id" +
        " LEFT JOIN ost_ticket pt ON pt.ticket_id = t.ticket_pid" +
        ` WHERE t.ticket_id IN (${idList})`,
      params: unique,
    },
    {
      sql:
        "SELECT fe.object_id AS ticket_id, fe.form_id, fe.sort AS entry_sort, fe.id AS entry_id, v.field_id," +
        " v.value, v.value_id, f.name, f.label, f.type, f.sort AS field_sort" +
        " FROM ost_form_entry fe JOIN ost_form_entry_values v ON v.entry_id = fe.id" +
        " JOIN ost_form_field f ON f.id = v.field_id" +
        ` WHERE fe.object_type = 'T' AND fe.object_id IN (${idList})` +
        (options.full ? "" : " AND (f.name IN ('subject', 'priority') OR f.type = 'priority')"),
      params: unique,
    },
  ];
  const related = options.full && !options.created;
  const collaborated = options.full && (options.created?.collaborators ?? true);
  if (related)
    statements.push({
      // Ticket::getChildTickets of each ticket, and each one's parent (for its subject).
      sql:
        `SELECT 'child' AS rel, r.ticket_id, r.ticket_pid, r.number, r.sort, ${RELATED_SUBJECT}` +
        ` FROM ost_ticket r WHERE r.ticket_pid IN (${idList})` +
        ` UNION ALL SELECT 'parent' AS rel, r.ticket_id, r.ticket_pid, r.number, r.sort, ${RELATED_SUBJECT}` +
        ` FROM ost_ticket c JOIN ost_ticket r ON r.ticket_id = c.ticket_pid WHERE c.ticket_id IN (${idList})`,
      params: [...unique, ...unique],
    });
  if (collaborated)
    statements.push({
      sql:
        "SELECT c.thread_id, c.user_id, c.role, c.flags, u.name, u.org_id, ue.address FROM ost_thread_collaborator c" +
        " LEFT JOIN ost_user u ON u.id = c.user_id LEFT JOIN ost_user_email ue ON ue.id = u.default_email_id" +
        " WHERE c.thread_id IN (SELECT th.id FROM ost_thread th" +
        ` WHERE th.object_id IN (${idList}) AND th.object_type IN ('T', 'C')) ORDER BY c.id`,
      params: unique,
    });
  return {
    statements,
    read([rows = [], answers = [], ...more]) {
      const relatives = related ? (more.shift() ?? []) : [];
      const collaborators = collaborated ? (more.shift() ?? []) : [];
      const tickets = new Map<number, Ticket>();
      for (const row of [...rows].sort(byThreadPreference)) {
        const id = num(row, "ticket_id");
        if (!tickets.has(id)) tickets.set(id, ticketOf(row, ref));
      }
      for (const a of [...answers].sort(byFormOrder)) {
        const ticket = tickets.get(num(a, "ticket_id"));
        if (ticket) applyAnswer(ticket, a, ref, options.full);
      }
      if (options.full) {
        applyRelatives(tickets, relatives);
        applyCollaborators(tickets, collaborators);
      }
      return tickets;
    },
  };
}

/** Tickets in id order, each one's own thread ('T') before a merge's child thread ('C'), then the oldest. */
function byThreadPreference(a: Row, b: Row): number {
  return (
    num(a, "ticket_id") - num(b, "ticket_id") ||
    Number(b.thread_object_type === "T") - Number(a.thread_object_type === "T") ||
    num(a, "thread_id") - num(b, "thread_id")
  );
}

/** Answers by ticket, then as osTicket orders forms (entry sort, entry) and their fields (sort, id). */
function byFormOrder(a: Row, b: Row): number {
  return (
    num(a, "ticket_id") - num(b, "ticket_id") ||
    num(a, "entry_sort") - num(b, "entry_sort") ||
    num(a, "entry_id") - num(b, "entry_id") ||
    num(a, "field_sort") - num(b, "field_sort") ||
    num(a, "field_id") - num(b, "field_id")
  );
}

function ticketOf(r: Row, ref: ReferenceSnapshot): Ticket {
  const status = ref.statuses.get(num(r, "status_id"));
  const dept = ref.departments.get(num(r, "dept_id"));
  const topic = ref.topics.get(num(r, "topic_id"));
  const sla = ref.slas.get(num(r, "sla_id"));
  const team = ref.teams.get(num(r, "team_id"));
  const staffId = num(r, "staff_id");
  return create(TicketSchema, {
    id: num(r, "ticket_id"),
    number: str(r, "number"),
    status: {
      id: num(r, "status_id"),
      name: status?.name ?? "",
      state: status?.state ?? 0,
    },
    department: { id: num(r, "dept_id"), name: dept?.name ?? "" },
    helpTopic: num(r, "topic_id") ? { id: num(r, "topic_id"), name: topic?.fullName ?? "" } : undefined,
    sla: num(r, "sla_id") ? { id: num(r, "sla_id"), name: sla?.name ?? "" } : undefined,
    requester: {
      id: num(r, "user_id"),
      name: str(r, "user_name"),
      email: str(r, "user_email"),
      orgId: num(r, "user_org_id"),
    },
    assigneeStaff: staffId
      ? {
          id: staffId,
          name: `${str(r, "staff_firstname")} ${str(r, "staff_lastname")}`.trim(),
          username: str(r, "staff_username"),
        }
      : undefined,
    assigneeTeam: num(r, "team_id") ? { id: num(r, "team_id"), name: team?.name ?? "" } : undefined,
    source: sourceOf(str(r, "source")),
    sourceExtra: str(r, "source_extra"),
    ipAddress: str(r, "ip_address"),
    isOverdue: num(r, "isoverdue") !== 0,
    isAnswered: num(r, "isanswered") !== 0,
    dueDate: timestamp(r, "duedate"),
    estDueDate: timestamp(r, "est_duedate"),
    createdAt: timestamp(r, "created"),
    updatedAt: timestamp(r, "updated"),
    lastUpdateAt: timestamp(r, "lastupdate"),
    lastMessageAt: timestamp(r, "lastmessage"),
    lastResponseAt: timestamp(r, "lastresponse"),
    closedAt: timestamp(r, "closed"),
    reopenedAt: timestamp(r, "reopened"),
    threadId: num(r, "thread_id"),
    emailId: num(r, "email_id"),
    parentTicketId: num(r, "ticket_pid"),
    flags: num(r, "flags"),
    relation: relationOf(r),
  });
}

/**
 * The ticket's relation from its own row (Ticket::getMergeType, isParent, isChild): the kind its flags say
 * (neither combine nor separate is a link), the parent by id and number.
 */
function relationOf(r: Row): TicketRelation | undefined {
  const flags = num(r, "flags");
  const parentId = num(r, "ticket_pid");
  const isParent = (flags & FLAG_PARENT) !== 0;
  if (!parentId && !isParent) return undefined;
  const kind =
    (flags & FLAG_COMBINE_THREADS) !== 0
      ? TicketRelationKind.MERGED_COMBINED
      : (flags & FLAG_SEPARATE_THREADS) !== 0
        ? TicketRelationKind.MERGED_SEPARATE
        : TicketRelationKind.LINKED;
  return create(TicketRelationSchema, {
    kind,
    isParent,
    parent: parentId ? { id: parentId, number: str(r, "parent_number") } : undefined,
  });
}

/** Children (in ost_ticket.sort order, then id) and the parent's subject, for full reads. */
function applyRelatives(tickets: Map<number, Ticket>, rows: readonly Row[]): void {
  const bySort = [...rows].sort(
    (a, b) => num(a, "sort") - num(b, "sort") || num(a, "ticket_id") - num(b, "ticket_id"),
  );
  for (const r of bySort) {
    const related = { id: num(r, "ticket_id"), number: str(r, "number"), subject: str(r, "subject") };
    if (r.rel === "child") {
      const parent = tickets.get(num(r, "ticket_pid"));
      // Ticket::getChildren: a parent's only (flag PARENT).
      if (!parent?.relation?.isParent) continue;
      parent.relation.children.push(create(RelatedTicketSchema, related));
      continue;
    }
    for (const t of tickets.values())
      if (t.parentTicketId === related.id && t.relation?.parent) t.relation.parent.subject = related.subject;
  }
}

function applyAnswer(ticket: Ticket, a: Row, ref: ReferenceSnapshot, full: boolean): void {
  const name = str(a, "name");
  const type = str(a, "type");
  if (type === "priority" || name === "priority") {
    // The priority is the answer's item id (value_id); the label stored beside it may be missing (§2.2).
    // A legacy priorityId is stored as sent: one no priority can have (negative) reads as none, as
    // Priority::lookup finds none.
    const id = num(a, "value_id");
    const priority = ref.priorities.get(id);
    if (id > 0 && id <= 0xffffffff && !ticket.priority)
      ticket.priority = create(PriorityRefSchema, {
        id,
        name: priority?.name ?? str(a, "value"),
        urgency: priority?.urgency ?? 0,
        color: priority?.color ?? "",
      });
    return;
  }
  if (name === "subject") {
    if (ticket.subject === "") ticket.subject = str(a, "value");
    return;
  }
  if (!full || OWN_FIELDS.has(name) || type === "thread") return;
  ticket.answers.push(
    create(FormAnswerSchema, {
      ...answerValue(a, type),
      fieldId: num(a, "field_id"),
      formId: num(a, "form_id"),
      name,
      label: str(a, "label"),
      type,
    }),
  );
}

function answerValue(a: Row, type: string): { value: string; valueId: number } {
  return displayedAnswer(type, str(a, "value"), num(a, "value_id"));
}

function applyCollaborators(tickets: Map<number, Ticket>, rows: readonly Row[]): void {
  const byThread = new Map<number, Ticket>();
  for (const t of tickets.values()) if (t.threadId) byThread.set(t.threadId, t);
  for (const r of rows) {
    const ticket = byThread.get(num(r, "thread_id"));
    if (!ticket) continue;
    const flags = num(r, "flags");
    ticket.collaborators.push(
      create(CollaboratorSchema, {
        user: {
          id: num(r, "user_id"),
          name: str(r, "name"),
          email: str(r, "address"),
          orgId: num(r, "org_id"),
        },
        role: collaboratorRoleOf(str(r, "role")),
        active: (flags & COLLAB_ACTIVE) !== 0,
        cc: (flags & COLLAB_CC) !== 0,
      }),
    );
  }
}

/** The id of the ticket with a public number (several with one number: the oldest), if any. */
export async function ticketIdByNumber(em: EntityManager, number: string): Promise<number | undefined> {
  const [row] = await query(
    em,
    "SELECT ticket_id FROM ost_ticket WHERE number = ? ORDER BY created, ticket_id LIMIT 1",
    [number],
  );
  return row ? num(row, "ticket_id") : undefined;
}
