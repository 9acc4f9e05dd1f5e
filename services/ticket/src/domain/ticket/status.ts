import { TicketActionError } from "../errors.ts";
import { DeptFlag, type TicketStatus, TopicFlag } from "../reference/lookups.ts";
import { int, isRecord, json, strOrNull } from "../rows.ts";
import { computeSlaDueDate } from "../sla/due-date.ts";
import { NOW, type TicketChange } from "./change.ts";

export interface StatusOutcome {
  /** The status actually changed. */
  readonly changed: boolean;
  readonly closed: boolean;
  readonly reopened: boolean;
  /** Id of the "Status Changed" note, 0 without a comment. */
  readonly noteId: number;
}

const UNCHANGED: StatusOutcome = { changed: false, closed: false, reopened: false, noteId: 0 };

/** Ticket::isReopenable: status allows it, department and topic are not archived. */
export async function isReopenable(change: TicketChange): Promise<boolean> {
  const { view, ctx } = change;
  if (!view.status?.reopenable) return false;
  const dept = await ctx.lookups.department(view.deptId);
  if (dept && (dept.flags & DeptFlag.ARCHIVED) !== 0) return false;
  const topic = view.topicId ? await ctx.lookups.topic(view.topicId) : undefined;
  return !(topic && (topic.flags & TopicFlag.ARCHIVED) !== 0);
}

/**
 * Ticket::getMissingRequiredFields: is an answer row of the ticket's forms NULL for a field flagged
 * close-required, other than a field the help topic disables (the topic's form rows, or without a topic the
 * ticket's own form entries, list those in `extra.disable`)? Only answer rows that exist count: a field with
 * no row (added to the form after the ticket was created) or with an empty string does not hold a close. The
 * PHP criteria name the flags key twice, so the later CLOSE_REQUIRED test replaces the ENABLED one: a
 * disabled field with a NULL answer still holds a close there, and here.
 */
async function hasMissingRequiredField(change: TicketChange): Promise<boolean> {
  const { ctx, ticket, view } = change;
  const [missing = [], extras = []] = await ctx.tx.batch([
    {
      sql:
        "SELECT DISTINCT v.field_id FROM ost_form_entry e JOIN ost_form_entry_values v ON v.entry_id = e.id" +
        " JOIN ost_form_field f ON f.id = v.field_id" +
        " WHERE e.object_type = 'T' AND e.object_id = ? AND f.flags & 4 AND v.value IS NULL",
      params: [ticket.id],
    },
    {
      // The topic's form rows when the topic exists, else the ticket's form entries.
      sql:
        "SELECT extra FROM ost_help_topic_form WHERE topic_id = ?" +
        " UNION ALL SELECT extra FROM ost_form_entry WHERE object_type = 'T' AND object_id = ?" +
        " AND NOT EXISTS (SELECT 1 FROM ost_help_topic WHERE topic_id = ?)",
      params: [view.topicId, ticket.id, view.topicId],
    },
  ]);
  if (!missing.length) return false;
  const disabled = new Set<number>();
  for (const row of extras) {
    const extra = json(strOrNull(row, "extra"));
    const list = isRecord(extra) ? extra.disable : undefined;
    const ids = Array.isArray(list) ? list : isRecord(list) ? Object.values(list) : [];
    for (const id of ids) disabled.add(Number(id));
  }
  return missing.some((row) => !disabled.has(int(row, "field_id")));
}

/** Ticket::isCloseable: no required-for-close field empty, no open task, topic set when required. */
async function closeBlocker(change: TicketChange): Promise<string | undefined> {
  const { ctx, ticket, view } = change;
  if (view.state === "closed") return undefined;
  if (await hasMissingRequiredField(change))
    return "This ticket is missing data on  one or more required fields  and cannot be closed";
  const tasks = await ctx.tx.first(
    "SELECT COUNT(*) AS n FROM ost_task WHERE object_type = 'T' AND object_id = ? AND flags & 1",
    [ticket.id],
  );
  const open = tasks ? int(tasks, "n") : 0;
  if (open) return `This ticket has ${open} open tasks and cannot be closed`;
  if (ctx.config.requireTopicToClose && !view.topicId)
    return "This ticket is missing a Help Topic and cannot be closed";
  return undefined;
}

/** The open status a closed ticket reopens to (TicketStatus::getReopenStatus, else the default). */
export async function reopenStatusFor(change: TicketChange): Promise<TicketStatus | undefined> {
  const { ctx, view } = change;
  const current = view.status;
  if (current?.reopenable && current.reopenStatusId !== null) {
    const target = await ctx.lookups.status(current.reopenStatusId || ctx.config.defaultTicketStatusId);
    if (target?.state.toLowerCase() === "open") return target;
  }
  return ctx.lookups.status(ctx.config.defaultTicketStatusId);
}

/** The agent who answered last (for auto-assignment on reopen). */
async function lastRespondent(change: TicketChange): Promise<number> {
  const row = await change.ctx.tx.first(
    "SELECT staff_id FROM ost_thread_entry WHERE thread_id = ? AND type = 'R' AND staff_id > 0 ORDER BY id DESC LIMIT 1",
    [change.ticket.threadId],
  );
  return row ? int(row, "staff_id") : 0;
}

/**
 * Ticket::setStatus for open and closed targets (FACTS §3): close sets closed/lastupdate, clears the
 * overdue flag and past due dates, may set the closing agent, refers the thread to the previous assignee,
 * annuls older `closed` events and logs `closed` {"status":[id,"Name"]}; reopen clears closed, sets
 * reopened/lastupdate, clears isanswered, re-assigns the closing agent or last respondent when available,
 * logs `reopened` and recomputes the SLA due date; open→open logs `edited` {"status":id}. Archived targets
 * are refused; a comment becomes a "Status Changed" note.
 */
export async function applyStatus(
  change: TicketChange,
  status: TicketStatus,
  options: { comments?: string; ipAddress?: string; setClosingAgent?: boolean; forceClose?: boolean } = {},
): Promise<StatusOutcome> {
  const { ctx, view } = change;
  const hadStatus = view.statusId;
  if (view.statusId === status.id) return UNCHANGED;
  const target = status.state.toLowerCase();
  const staff = ctx.staff;
  let closed = false;
  let reopened = false;
  if (target === "closed") {
    const blocker = options.forceClose ? undefined : await closeBlocker(change);
    if (blocker) throw new TicketActionError("err", blocker);
    const referTo = view.staffId || staff?.id || 0;
    change.set("closed", NOW);
    change.set("lastupdate", NOW);
    if (staff && (options.setClosingAgent ?? true)) change.setStaff(staff.id);
    // clearOverdue: the flag, and due dates that are already past.
    if (view.isOverdue) {
      view.isOverdue = false;
      change.set("isoverdue", 0);
    }
    change.set("duedate", { sql: "IF(duedate <= NOW(), NULL, duedate)" });
    change.set("est_duedate", { sql: "IF(est_duedate <= NOW(), NULL, est_duedate)" });
    change.setStatus(status);
    await change.flush();
    if (referTo && ctx.config.autoReferClosed) {
      await ctx.tx.run(
        "INSERT IGNORE INTO ost_thread_referral (thread_id, object_id, object_type, created) VALUES (?, ?, 'S', NOW())",
        [change.ticket.threadId, referTo],
      );
    }
    closed = true;
  } else if (target === "open") {
    if (view.state === "closed") {
      if (await isReopenable(change)) {
        const dept = await ctx.lookups.department(view.deptId);
        const candidateId = view.staffId || (await lastRespondent(change));
        const candidate = candidateId ? await ctx.lookups.staff(candidateId) : undefined;
        // Staff::canAccessDept: managed departments and sub-departments count, unlike Dept::isMember.
        const canAccess = candidate && dept && (await ctx.lookups.canAccessDept(candidate, dept.id));
        const autoAssign = !dept || (dept.flags & DeptFlag.DISABLE_REOPEN_AUTO_ASSIGN) === 0;
        change.setStaff(
          autoAssign && candidate?.isActive && !candidate.onVacation && canAccess ? candidate.id : 0,
        );
      }
      change.set("closed", null);
      change.set("reopened", NOW);
      change.set("lastupdate", NOW);
      reopened = true;
    }
    if (view.state !== "open") change.setAnswered(false);
    change.setStatus(status);
    await change.flush();
  } else {
    throw new TicketActionError("err", `Unable to set a ticket to the ${target || "unknown"} state`);
  }

  let noteId = 0;
  const comments = (options.comments ?? "").trim();
  if (hadStatus && comments)
    noteId = await change.note("Status Changed", comments, { ipAddress: options.ipAddress });
  if (closed) {
    await change.event("closed", { status: [status.id, status.name] }, { annul: "closed" });
    // Drafts of the ticket go (their attachments are left as osTicket leaves them).
    await ctx.tx.run("DELETE FROM ost_draft WHERE namespace LIKE ?", [`ticket.%.${change.ticket.id}`]);
  } else if (reopened) {
    await change.event("reopened", null, { annul: "closed" });
    await updateEstimatedDueDate(change);
  } else if (hadStatus) {
    await change.event("edited", { status: status.id });
  }
  return { changed: true, closed, reopened, noteId };
}

/** Ticket::updateEstDueDate: clears overdue and recomputes est_duedate from reopened, else created. */
export async function updateEstimatedDueDate(change: TicketChange): Promise<void> {
  const { ctx, view, ticket } = change;
  if (view.isOverdue) {
    view.isOverdue = false;
    change.set("isoverdue", 0);
    change.set("duedate", { sql: "IF(duedate <= NOW(), NULL, duedate)" });
  }
  await change.flush();
  const row = await ctx.tx.first(
    "SELECT UNIX_TIMESTAMP(COALESCE(reopened, created)) AS start FROM ost_ticket WHERE ticket_id = ?",
    [ticket.id],
  );
  const due = await computeSlaDueDate(ctx.tx, ctx.lookups, {
    slaId: view.slaId,
    deptId: view.deptId,
    startEpoch: row ? int(row, "start") : ctx.now,
    actorTimezone: ctx.staff?.timezone,
  });
  change.set("est_duedate", due === null ? null : { sql: "FROM_UNIXTIME(?)", params: [due] });
}
