import {
  type BodyFormat,
  cleanBodyContent,
  cleanTitle,
  storedBody,
  truncate,
} from "@ostmesh/kit/osticket/html/format.ts";
import { type UseCaseContext, withUseCaseReading } from "../context.ts";
import { NotFoundError, TicketActionError, TicketValidationError } from "../errors.ts";
import type { Actor, Ports } from "../ports.ts";
import { DeptFlag, SlaFlag, type Staff, staffDisplayName } from "../reference/lookups.ts";
import { int } from "../rows.ts";
import { bothReads, noRead, type Sql } from "../sql.ts";
import {
  type AttachmentLink,
  EntryFlag,
  insertThreadEntry,
  ticketRecipients,
  ticketRecipientsRead,
} from "../thread/entries.ts";
import { findUserById } from "../users/requester.ts";
import { NOW, TicketChange } from "./change.ts";
import { refuseLockedByAnother, type TicketLock, ticketLockRead } from "./lock.ts";
import { isMergedChild, refuseOnMergedChild, TicketFlag } from "./merge.ts";
import { type TicketState, ticketForUpdateRead, ticketStateOf } from "./state.ts";
import { applyStatus, isReopenable, reopenStatusFor } from "./status.ts";

/** What an action left the ticket as (the RPC layer reloads the full ticket for its response). */
export interface ActionResult {
  readonly ticketId: number;
  readonly number: string;
  /** The entry the action posted (reply, message, note, status/assignment/transfer comment), 0 if none. */
  readonly entryId: number;
  readonly statusId: number;
  readonly staffId: number;
  readonly teamId: number;
  readonly deptId: number;
}

function result(change: TicketChange, entryId: number): ActionResult {
  return {
    ticketId: change.ticket.id,
    number: change.ticket.number,
    entryId,
    statusId: change.view.statusId,
    staffId: change.view.staffId,
    teamId: change.view.teamId,
    deptId: change.view.deptId,
  };
}

/**
 * Runs an action on one row-locked ticket; with `toParent`, on the parent of a merged child instead, as
 * Ticket::postMessage posts a child's messages (the parent's row is locked by the same read). With
 * `lock`, the ticket's live staff-panel lock is read in the same round trip and handed to `work`.
 */
function onTicket<T>(
  tx: Sql,
  ticketId: number,
  actor: Actor,
  ports: Ports,
  work: (
    change: TicketChange,
    ctx: UseCaseContext,
    addressed: TicketState,
    lock: TicketLock | undefined,
  ) => Promise<T>,
  options: { readonly toParent?: boolean; readonly lock?: boolean } = {},
): Promise<T> {
  const read = bothReads(
    ticketForUpdateRead(ticketId),
    options.lock ? ticketLockRead(ticketId) : noRead(undefined),
  );
  return withUseCaseReading(tx, actor, ports, read, async (ctx, [rows, lock]) => {
    const addressed = await ticketStateOf(rows, ctx.lookups, ticketId);
    const ticket =
      options.toParent && isMergedChild(addressed) && rows.parent
        ? await ticketStateOf(
            { ticket: rows.parent, status: undefined, parent: undefined },
            ctx.lookups,
            addressed.parentId,
          )
        : addressed;
    const change = new TicketChange(ctx, ticket);
    const out = await work(change, ctx, addressed, lock);
    await change.finish();
    return out;
  });
}

function requireStaff(ctx: UseCaseContext): Staff {
  if (ctx.actor.kind !== "staff") throw new TicketActionError("err", "This action needs an agent");
  if (!ctx.staff) throw new NotFoundError("staff", ctx.actor.staffId);
  return ctx.staff;
}

function body(ctx: UseCaseContext, text: string, format: BodyFormat, key: string, message: string) {
  const content = cleanBodyContent(text, format, {
    editorSpacing: ctx.actor.kind !== "system",
    policy: ctx.htmlPolicy,
  });
  if (!content) throw new TicketValidationError([{ key, message }]);
  return storedBody(content);
}

export interface PostReplyInput {
  readonly ticketId: number;
  readonly body: string;
  readonly format?: BodyFormat;
  /** Title of the response (usually none: NULL). */
  readonly title?: string;
  /** Status to set with the reply (reply_status_id). */
  readonly replyStatusId?: number;
  readonly ipAddress?: string;
  readonly attachments?: readonly AttachmentLink[];
  /** Auto-claim an unassigned open ticket (default true; also needs config auto_claim_tickets). */
  readonly claim?: boolean;
  /**
   * Who the reply goes to (the staff panel's reply-to): `all` = owner and active collaborators, `user` =
   * the owner, `none` (default) = nobody. Recorded on the entry's `recipients` and REPLY_* flag.
   */
  readonly recipients?: "all" | "user" | "none";
  /** Refuse the reply while another agent holds the ticket's staff-panel lock, as the panel's form does. */
  readonly respectLock?: boolean;
}

/**
 * Agent reply (Ticket::postReply): entry type R, pid = last message, thread.lastresponse, optional status,
 * auto-claim, isanswered = 1. lastupdate is not touched and no event is logged.
 */
export function postReply(
  tx: Sql,
  input: PostReplyInput,
  actor: Actor,
  ports: Ports = {},
): Promise<ActionResult> {
  const respectLock = input.respectLock ?? false;
  return onTicket(
    tx,
    input.ticketId,
    actor,
    ports,
    async (change, ctx, _addressed, lock) => {
      const staff = requireStaff(ctx);
      refuseOnMergedChild(change.ticket, change.ticket.parentNumber);
      if (respectLock) refuseLockedByAnother(ctx.config, lock, staff.id);
      return postReplyOn(input, change, ctx, staff);
    },
    { lock: respectLock },
  );
}

async function postReplyOn(
  input: PostReplyInput,
  change: TicketChange,
  ctx: UseCaseContext,
  staff: Staff,
): Promise<ActionResult> {
  const format = input.format ?? "text";
  const stored = body(ctx, input.body, format, "response", "Response content is required");
  const who = input.recipients ?? "none";
  // The message replied to, the recipients and the department (auto-claim) in one round trip.
  const [last, recipients] = await ctx.lookups.prefetch(
    { depts: [change.view.deptId], priorities: false },
    bothReads(
      {
        statements: [
          {
            sql: "SELECT id FROM ost_thread_entry WHERE thread_id = ? AND type = 'M' ORDER BY id DESC LIMIT 1",
            params: [change.ticket.threadId],
          },
        ],
        read: ([rows = []]) => rows[0],
      },
      who === "none" ? noRead(null) : ticketRecipientsRead(change.ticket, who),
    ),
  );
  const entry = await insertThreadEntry(ctx.tx, {
    recipients,
    threadId: change.ticket.threadId,
    type: "R",
    pid: last ? int(last, "id") : 0,
    staffId: staff.id,
    userId: 0,
    poster: staffDisplayName(staff, ctx.config.agentNameFormat),
    source: "",
    title: input.title === undefined ? null : cleanTitle(input.title, ctx.htmlPolicy),
    body: stored,
    format,
    ipAddress: input.ipAddress ?? "",
    attachments: input.attachments ?? [],
  });
  change.index(entry.searchRow);
  ctx.tx.later("UPDATE ost_thread SET lastresponse = NOW() WHERE id = ?", [change.ticket.threadId]);
  if (input.replyStatusId && input.replyStatusId !== change.view.statusId) {
    const status = await ctx.lookups.status(input.replyStatusId);
    if (!status) throw new NotFoundError("status", input.replyStatusId);
    await applyStatus(change, status);
  }
  const dept = await ctx.lookups.department(change.view.deptId);
  const claim =
    (input.claim ?? true) &&
    ctx.config.autoClaimTickets &&
    !(dept && (dept.flags & DeptFlag.DISABLE_AUTO_CLAIM) !== 0);
  if (claim && change.view.state === "open" && !change.view.staffId) change.setStaff(staff.id);
  change.setAnswered(true);
  await ctx.emit({
    type: "ticket.response.posted",
    ticketId: change.ticket.id,
    number: change.ticket.number,
    actor: ctx.actor,
    entryId: entry.id,
    staffId: staff.id,
  });
  return result(change, entry.id);
}

export interface PostMessageInput {
  readonly ticketId: number;
  readonly body: string;
  readonly format?: BodyFormat;
  /** Author; default the actor (portal user) or the ticket's owner. A non-owner becomes a collaborator. */
  readonly userId?: number;
  /** Channel on the entry ('' from the client portal). */
  readonly source?: string;
  readonly title?: string;
  readonly ipAddress?: string;
  readonly attachments?: readonly AttachmentLink[];
}

export interface PostMessageResult extends ActionResult {
  readonly reopened: boolean;
}

/**
 * End-user message (Ticket::postMessage → onMessage): entry type M, thread.lastmessage, isanswered = 0,
 * lastupdate; a closed, reopenable ticket is reopened; a non-owner author is added as collaborator first.
 * A message to a merged child goes to its parent (the result names the parent); its author, by default
 * the child's owner, then joins the parent's thread unless they own the parent.
 */
export function postMessage(
  tx: Sql,
  input: PostMessageInput,
  actor: Actor,
  ports: Ports = {},
): Promise<PostMessageResult> {
  return onTicket(tx, input.ticketId, actor, ports, postMessageOn(input, actor), { toParent: true });
}

function postMessageOn(input: PostMessageInput, actor: Actor) {
  return async (change: TicketChange, ctx: UseCaseContext, addressed: TicketState) => {
    const authorId = input.userId ?? (actor.kind === "user" ? actor.userId : addressed.userId);
    const author = await findUserById(ctx.tx, authorId);
    if (!author) throw new NotFoundError("user", authorId);
    const format = input.format ?? "text";
    const stored = body(ctx, input.body, format, "message", "Message content is required");
    const threadId = change.ticket.threadId;
    if (author.id !== change.ticket.userId) {
      const added = await ctx.tx.run(
        "INSERT IGNORE INTO ost_thread_collaborator (flags, thread_id, user_id, role, created, updated)" +
          " VALUES (3, ?, ?, 'M', NOW(), NOW())",
        [threadId, author.id],
      );
      if (added.affectedRows) await change.event("collab", { add: { [author.id]: { name: author.name } } });
    }
    const collaborator = await ctx.tx.first(
      "SELECT id FROM ost_thread_collaborator WHERE thread_id = ? AND user_id = ? LIMIT 1",
      [threadId, author.id],
    );
    // Messages from the portal or the API list the owner and active collaborators except the poster.
    const recipients =
      (input.source ?? "").toLowerCase() === "email"
        ? null
        : await ticketRecipients(ctx.tx, change.ticket, "all", author.id);
    const entry = await insertThreadEntry(ctx.tx, {
      recipients,
      threadId,
      type: "M",
      pid: 0,
      staffId: 0,
      userId: author.id,
      poster: truncate(author.name, 128),
      source: truncate(input.source ?? "", 32),
      title: input.title === undefined ? null : cleanTitle(input.title, ctx.htmlPolicy),
      body: stored,
      format,
      ipAddress: truncate(input.ipAddress ?? "", 64),
      flags: collaborator ? EntryFlag.COLLABORATOR : 0,
      attachments: input.attachments ?? [],
    });
    change.index(entry.searchRow);
    ctx.tx.later("UPDATE ost_thread SET lastmessage = NOW() WHERE id = ?", [threadId]);
    change.setAnswered(false);
    change.set("lastupdate", NOW);
    let reopened = false;
    if (change.view.state === "closed" && (await isReopenable(change))) {
      const status = await reopenStatusFor(change);
      if (status) reopened = (await applyStatus(change, status)).reopened;
    }
    await ctx.emit({
      type: "ticket.message.posted",
      ticketId: change.ticket.id,
      number: change.ticket.number,
      actor: ctx.actor,
      entryId: entry.id,
      userId: author.id,
      reopened,
    });
    return { ...result(change, entry.id), reopened };
  };
}

export interface PostNoteInput {
  readonly ticketId: number;
  readonly title: string;
  readonly body: string;
  readonly format?: BodyFormat;
  /** Status to set with the note (note_status_id). */
  readonly statusId?: number;
  readonly ipAddress?: string;
  readonly attachments?: readonly AttachmentLink[];
  /** Refuse an agent's note while another agent holds the ticket's staff-panel lock, as the panel's form does. */
  readonly respectLock?: boolean;
}

/** Internal note (Ticket::postNote): entry type N by the agent, or SYSTEM; no ticket column changes. */
export function postNote(
  tx: Sql,
  input: PostNoteInput,
  actor: Actor,
  ports: Ports = {},
): Promise<ActionResult> {
  const respectLock = (input.respectLock ?? false) && actor.kind === "staff";
  return onTicket(
    tx,
    input.ticketId,
    actor,
    ports,
    async (change, ctx, _addressed, lock) => {
      refuseOnMergedChild(change.ticket, change.ticket.parentNumber);
      if (respectLock && ctx.staff) refuseLockedByAnother(ctx.config, lock, ctx.staff.id);
      return postNoteOn(input, change, ctx);
    },
    { lock: respectLock },
  );
}

async function postNoteOn(
  input: PostNoteInput,
  change: TicketChange,
  ctx: UseCaseContext,
): Promise<ActionResult> {
  const format = input.format ?? "text";
  body(ctx, input.body, format, "note", "Note content is required");
  const entryId = await change.note(input.title, input.body, {
    format,
    ipAddress: input.ipAddress ?? "",
    attachments: input.attachments ?? [],
  });
  if (input.statusId) {
    const status = await ctx.lookups.status(input.statusId);
    if (!status) throw new NotFoundError("status", input.statusId);
    await applyStatus(change, status);
  }
  await ctx.emit({
    type: "ticket.note.posted",
    ticketId: change.ticket.id,
    number: change.ticket.number,
    actor: ctx.actor,
    entryId,
    staffId: ctx.staff?.id ?? 0,
    title: input.title,
  });
  return result(change, entryId);
}

export interface ChangeStatusInput {
  readonly ticketId: number;
  readonly statusId: number;
  /** Posted as an internal note titled "Status Changed". */
  readonly comment?: string;
  /** The client's address, recorded on the comment's note. */
  readonly ipAddress?: string;
}

export interface ChangeStatusResult extends ActionResult {
  readonly deleted: boolean;
}

/**
 * Ticket::setStatus from the staff panel: close / reopen / open→open; a status of state `deleted` deletes
 * the ticket for good (as osTicket does for agents allowed to delete); `archived` is refused.
 */
export function changeStatus(
  tx: Sql,
  input: ChangeStatusInput,
  actor: Actor,
  ports: Ports = {},
): Promise<ChangeStatusResult> {
  return withUseCaseReading(tx, actor, ports, ticketForUpdateRead(input.ticketId), async (ctx, rows) => {
    const ticket = await ticketStateOf(rows, ctx.lookups, input.ticketId);
    const status = await ctx.lookups.status(input.statusId);
    if (!status) throw new NotFoundError("status", input.statusId);
    const change = new TicketChange(ctx, ticket);
    if (status.state.toLowerCase() === "deleted") {
      await deleteTicket(change);
      await ctx.emit({
        type: "ticket.status.changed",
        ticketId: ticket.id,
        number: ticket.number,
        actor: ctx.actor,
        fromStatusId: ticket.statusId,
        toStatusId: status.id,
        state: "deleted",
      });
      return { ...result(change, 0), deleted: true };
    }
    const outcome = await applyStatus(change, status, {
      comments: input.comment,
      ipAddress: input.ipAddress,
    });
    await change.finish();
    if (outcome.changed) {
      await ctx.emit({
        type: "ticket.status.changed",
        ticketId: ticket.id,
        number: ticket.number,
        actor: ctx.actor,
        fromStatusId: ticket.statusId,
        toStatusId: status.id,
        state: status.state.toLowerCase(),
      });
    }
    return { ...result(change, outcome.noteId), deleted: false };
  });
}

/**
 * Ticket::delete: the ticket, its thread (entries, attachments links, collaborators, referrals), form
 * entries and answers, drafts and cdata row go; events are kept with thread_id 0 plus a `deleted` event;
 * e-mail headers of the entries are cleared; search rows are removed.
 */
async function deleteTicket(change: TicketChange): Promise<void> {
  const { ctx, ticket } = change;
  const tx = ctx.tx;
  await tx.run("DELETE FROM ost_ticket WHERE ticket_id = ?", [ticket.id]);
  if (ticket.parentId) await leaveParent(tx, ticket.parentId);
  else await deleteThread(tx, ticket.threadId);
  await releaseChildren(tx, ticket.id);
  await change.event("deleted");
  await tx.run(
    "DELETE v FROM ost_form_entry_values v JOIN ost_form_entry e ON e.id = v.entry_id WHERE e.object_type = 'T' AND e.object_id = ?",
    [ticket.id],
  );
  await tx.run("DELETE FROM ost_form_entry WHERE object_type = 'T' AND object_id = ?", [ticket.id]);
  await tx.run("DELETE FROM ost_draft WHERE namespace LIKE ?", [`ticket.%.${ticket.id}`]);
  const cdata = await tx.first(
    "SELECT 1 AS yes FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'ost_ticket__cdata'",
  );
  if (cdata) await tx.run("DELETE FROM ost_ticket__cdata WHERE ticket_id = ?", [ticket.id]);
  await tx.run("DELETE FROM ost__search WHERE object_type = 'T' AND object_id = ?", [ticket.id]);
}

/** The bits Ticket::setMergeType(3) clears: merge type, link and parent. */
const RELATION_FLAGS =
  TicketFlag.COMBINE_THREADS | TicketFlag.SEPARATE_THREADS | TicketFlag.LINKED | TicketFlag.PARENT;

/**
 * Ticket::delete of a parent: each child becomes a ticket of its own again (no ticket_pid, no merge or link
 * flags, its child thread a ticket thread again). The entries a merge moved stay in the deleted parent's
 * thread, and go with it.
 */
async function releaseChildren(tx: Sql, parentId: number): Promise<void> {
  await tx.run(
    "UPDATE ost_thread th JOIN ost_ticket c ON c.ticket_id = th.object_id SET th.object_type = 'T'" +
      " WHERE c.ticket_pid = ? AND th.object_type = 'C'",
    [parentId],
  );
  await tx.run(
    `UPDATE ost_ticket SET ticket_pid = NULL, flags = flags & ~${RELATION_FLAGS}, updated = NOW() WHERE ticket_pid = ?`,
    [parentId],
  );
}

/**
 * Ticket::delete of a child (merged or linked): its thread stays (osTicket deletes only a thread that is no
 * child's), and a parent left without children is a plain ticket again.
 */
async function leaveParent(tx: Sql, parentId: number): Promise<void> {
  const left = await tx.first("SELECT ticket_id FROM ost_ticket WHERE ticket_pid = ? LIMIT 1", [parentId]);
  if (left) return;
  await tx.run(
    `UPDATE ost_ticket SET flags = flags & ~${RELATION_FLAGS}, updated = NOW() WHERE ticket_id = ? AND (flags & ${TicketFlag.PARENT}) <> 0`,
    [parentId],
  );
}

/** Thread::delete: the thread with its entries, their files' links and e-mail headers, collaborators, referrals. */
async function deleteThread(tx: Sql, threadId: number): Promise<void> {
  await tx.run("DELETE FROM ost_thread WHERE id = ?", [threadId]);
  await tx.run(
    "UPDATE ost_thread_entry_email m JOIN ost_thread_entry e ON e.id = m.thread_entry_id SET m.headers = NULL WHERE e.thread_id = ?",
    [threadId],
  );
  await tx.run(
    "DELETE a FROM ost_attachment a JOIN ost_thread_entry e ON e.id = a.object_id AND a.type = 'H' WHERE e.thread_id = ?",
    [threadId],
  );
  await tx.run("DELETE FROM ost_thread_collaborator WHERE thread_id = ?", [threadId]);
  await tx.run("DELETE FROM ost_thread_referral WHERE thread_id = ?", [threadId]);
  await tx.run(
    "DELETE s FROM ost__search s JOIN ost_thread_entry e ON e.id = s.object_id AND s.object_type = 'H' WHERE e.thread_id = ?",
    [threadId],
  );
  await tx.run("DELETE FROM ost_thread_entry WHERE thread_id = ?", [threadId]);
  await tx.run("UPDATE ost_thread_event SET thread_id = 0 WHERE thread_id = ?", [threadId]);
}

export type Assignee = { readonly staffId: number } | { readonly teamId: number };

export interface AssignInput {
  readonly ticketId: number;
  readonly assignee: Assignee;
  /** Posted as an internal note ("Ticket Assigned to <name>" / "Ticket claimed by <name>"). */
  readonly comment?: string;
  /** The client's address, recorded on the comment's note. */
  readonly ipAddress?: string;
  /** Refer the thread to the previous assignee. */
  readonly refer?: boolean;
}

/**
 * Assignment from the staff panel (Ticket::assign / Ticket::claim): to an available agent (the caller
 * itself = a claim, event {"claim":true}, else {"staff":[id,"Name"]}) or an enabled team ({"team":id}); a
 * closed ticket is reopened afterwards; a referral to the new assignee is removed.
 */
export function assignTicket(
  tx: Sql,
  input: AssignInput,
  actor: Actor,
  ports: Ports = {},
): Promise<ActionResult> {
  return onTicket(tx, input.ticketId, actor, ports, async (change, ctx) => {
    const { lookups } = ctx;
    const dept = await lookups.department(change.view.deptId);
    let data: Record<string, unknown>;
    let refer: { id: number; type: "S" | "E" } | undefined;
    let assigneeName: string;
    let claim = false;
    let staffId = 0;
    let teamId = 0;
    if ("staffId" in input.assignee) {
      const staff = await lookups.staff(input.assignee.staffId);
      if (!staff) throw new NotFoundError("staff", input.assignee.staffId);
      claim = ctx.staff?.id === staff.id;
      // Assigning to oneself is a claim (Ticket::claim → assignToStaff), which re-claiming does not refuse.
      if (change.view.staffId === staff.id && !claim) {
        throw new TicketActionError("assignee", "Ticket already assigned to the agent");
      }
      if (!staff.isActive || staff.onVacation) {
        throw new TicketActionError("assignee", "Agent is unavailable for assignment");
      }
      // Dept::canAssign: the primary department only, or a member (Dept::isMember: manager included).
      const primaryOnly =
        dept && (dept.flags & DeptFlag.ASSIGN_PRIMARY_ONLY) !== 0 && staff.deptId !== change.view.deptId;
      const membersOnly = dept && (dept.flags & DeptFlag.ASSIGN_MEMBERS_ONLY) !== 0;
      if (primaryOnly || (membersOnly && !(await lookups.isDeptMember(staff, dept)))) {
        throw new TicketActionError("err", "Permission denied");
      }
      if (change.view.staffId && change.view.staffId !== staff.id)
        refer = { id: change.view.staffId, type: "S" };
      change.setStaff(staff.id);
      const fullName = [staff.firstname, staff.lastname].join(" ");
      data = claim ? { claim: true } : { staff: [staff.id, fullName] };
      assigneeName = staffDisplayName(staff, ctx.config.agentNameFormat);
      await ctx.tx.run(
        "DELETE FROM ost_thread_referral WHERE thread_id = ? AND object_id = ? AND object_type = 'S'",
        [change.ticket.threadId, staff.id],
      );
      staffId = staff.id;
    } else {
      const team = await lookups.team(input.assignee.teamId);
      if (!team) throw new NotFoundError("team", input.assignee.teamId);
      if (change.view.teamId === team.id)
        throw new TicketActionError("assignee", "Ticket already assigned to the team");
      if ((team.flags & 0x1) === 0) throw new TicketActionError("err", "Permission denied");
      if (change.view.teamId) refer = { id: change.view.teamId, type: "E" };
      change.setTeam(team.id);
      data = { team: team.id };
      assigneeName = team.name;
      await ctx.tx.run(
        "DELETE FROM ost_thread_referral WHERE thread_id = ? AND object_id = ? AND object_type = 'E'",
        [change.ticket.threadId, team.id],
      );
      teamId = team.id;
    }
    await change.flush();
    await change.event("assigned", data);
    // Ticket::onAssign: assigned tickets must be open; the comment becomes a note.
    if (change.view.state === "closed") {
      const status = await reopenStatusFor(change);
      if (status) await applyStatus(change, status);
    }
    let entryId = 0;
    const comment = (input.comment ?? "").trim();
    if (comment) {
      const title =
        claim && ctx.staff
          ? `Ticket claimed by ${staffDisplayName(ctx.staff, ctx.config.agentNameFormat)}`
          : `Ticket Assigned to ${assigneeName}`;
      entryId = await change.note(title, comment, {
        poster: "SYSTEM (Auto Assignment)",
        ipAddress: input.ipAddress,
      });
    }
    if (refer && input.refer) {
      await ctx.tx.run(
        "INSERT IGNORE INTO ost_thread_referral (thread_id, object_id, object_type, created) VALUES (?, ?, ?, NOW())",
        [change.ticket.threadId, refer.id, refer.type],
      );
    }
    await ctx.emit({
      type: "ticket.assigned",
      ticketId: change.ticket.id,
      number: change.ticket.number,
      actor: ctx.actor,
      staffId,
      teamId,
      claim,
    });
    return result(change, entryId);
  });
}

/**
 * The format of a note osTicket posts from a plain string through Ticket::postNote (transfer and release
 * comments): ThreadEntry::create makes it html when rich text is enabled, else text (no BALANCED flag).
 * Ticket::logNote (status and assignment comments) always wraps the string as html.
 */
function plainNoteFormat(ctx: UseCaseContext): BodyFormat {
  return ctx.config.flag("enable_richtext") ? "html" : "text";
}

export interface ReleaseInput {
  readonly ticketId: number;
  /** Release the agent (default true). */
  readonly staff?: boolean;
  /** Release the team (default true). */
  readonly team?: boolean;
  /** Posted as an internal note titled "Assignment Released". */
  readonly comment?: string;
  /** The client's address, recorded on the comment's note. */
  readonly ipAddress?: string;
}

/**
 * Release from the staff panel (ajax release → Ticket::release): agent and/or team unassigned, event
 * `released` {"staff":[id,"Name"]} / {"team":id}. Only an assigned open ticket can be released.
 */
export function releaseTicket(
  tx: Sql,
  input: ReleaseInput,
  actor: Actor,
  ports: Ports = {},
): Promise<ActionResult> {
  return onTicket(tx, input.ticketId, actor, ports, async (change, ctx) => {
    const view = change.view;
    if (view.state !== "open" || (!view.staffId && !view.teamId)) {
      throw new TicketActionError("err", "Ticket is not assigned!");
    }
    const releaseStaff = input.staff ?? true;
    const releaseTeam = input.team ?? true;
    const data: Record<string, unknown> = {};
    const formerStaff = view.staffId;
    const formerTeam = view.teamId;
    if (releaseStaff && view.staffId) {
      const staff = await ctx.lookups.staff(view.staffId);
      change.setStaff(0);
      if (staff) data.staff = [staff.id, [staff.firstname, staff.lastname].join(" ")];
    }
    if (releaseTeam && view.teamId) {
      data.team = view.teamId;
      change.setTeam(0);
    }
    await change.flush();
    await change.event("released", data);
    let entryId = 0;
    const comment = (input.comment ?? "").trim();
    if (comment)
      entryId = await change.note("Assignment Released", comment, {
        format: plainNoteFormat(ctx),
        ipAddress: input.ipAddress,
      });
    await ctx.emit({
      type: "ticket.released",
      ticketId: change.ticket.id,
      number: change.ticket.number,
      actor: ctx.actor,
      staffId: releaseStaff ? formerStaff : 0,
      teamId: releaseTeam ? formerTeam : 0,
    });
    return result(change, entryId);
  });
}

export interface TransferInput {
  readonly ticketId: number;
  readonly deptId: number;
  /** Posted as a note titled "Ticket transferred from <A> to <B>". */
  readonly comment?: string;
  /** The client's address, recorded on the comment's note. */
  readonly ipAddress?: string;
  /** Refer the thread to the previous department. */
  readonly refer?: boolean;
}

/**
 * Ticket::transfer: new dept_id (agent unassigned when the new department assigns members only and the
 * agent is not one), closed tickets reopened, the department's SLA applied when the ticket has none or a
 * transient one, event `transferred` {"dept":"Name"}, the department's referral removed, optional note.
 */
export function transferTicket(
  tx: Sql,
  input: TransferInput,
  actor: Actor,
  ports: Ports = {},
): Promise<ActionResult> {
  return onTicket(tx, input.ticketId, actor, ports, async (change, ctx) => {
    const { lookups } = ctx;
    const from = await lookups.department(change.view.deptId);
    const to = input.deptId ? await lookups.department(input.deptId) : undefined;
    if (!to) throw new TicketActionError("dept", "Department selection required");
    if (to.id === change.view.deptId) throw new TicketActionError("dept", "Ticket already in the department");
    change.view.deptId = to.id;
    change.set("dept_id", to.id);
    if (
      change.view.state === "open" &&
      change.view.staffId &&
      (to.flags & DeptFlag.ASSIGN_MEMBERS_ONLY) !== 0
    ) {
      const staff = await lookups.staff(change.view.staffId);
      if (!staff || !(await lookups.isDeptMember(staff, to))) change.setStaff(0);
    }
    await change.flush();
    if (change.view.state === "closed") {
      const status = await reopenStatusFor(change);
      if (status) await applyStatus(change, status);
    }
    const currentSla = change.view.slaId ? await lookups.sla(change.view.slaId) : undefined;
    if (
      (!currentSla || (currentSla.flags & SlaFlag.TRANSIENT) !== 0) &&
      to.slaId &&
      (await lookups.sla(to.slaId))
    ) {
      if (to.slaId !== change.view.slaId) {
        change.view.slaId = to.slaId;
        change.set("sla_id", to.slaId);
      }
    }
    await change.event("transferred", { dept: to.name });
    await ctx.tx.run(
      "DELETE FROM ost_thread_referral WHERE thread_id = ? AND object_id = ? AND object_type = 'D'",
      [change.ticket.threadId, to.id],
    );
    let entryId = 0;
    const comment = (input.comment ?? "").trim();
    if (comment) {
      entryId = await change.note(`Ticket transferred from ${from?.name ?? ""} to ${to.name}`, comment, {
        format: plainNoteFormat(ctx),
        ipAddress: input.ipAddress,
      });
    }
    if (input.refer && from) {
      await ctx.tx.run(
        "INSERT IGNORE INTO ost_thread_referral (thread_id, object_id, object_type, created) VALUES (?, ?, 'D', NOW())",
        [change.ticket.threadId, from.id],
      );
    }
    await ctx.emit({
      type: "ticket.transferred",
      ticketId: change.ticket.id,
      number: change.ticket.number,
      actor: ctx.actor,
      fromDeptId: from?.id ?? change.ticket.deptId,
      toDeptId: to.id,
    });
    return result(change, entryId);
  });
}

/** Ticket::markOverdue: only open tickets not yet overdue; isoverdue = 1 and event `overdue`. */
export function markOverdue(tx: Sql, ticketId: number, actor: Actor, ports: Ports = {}): Promise<boolean> {
  return onTicket(tx, ticketId, actor, ports, async (change, ctx) => {
    if (change.view.state !== "open" || change.view.isOverdue) return false;
    change.view.isOverdue = true;
    change.set("isoverdue", 1);
    await change.flush();
    await change.event("overdue");
    await ctx.emit({
      type: "ticket.overdue",
      ticketId: change.ticket.id,
      number: change.ticket.number,
      actor: ctx.actor,
    });
    return true;
  });
}

/** Open, not-yet-overdue tickets whose due date (or, without one, SLA due date) has passed. */
export async function findOverdueTicketIds(tx: Sql, limit = 100): Promise<number[]> {
  const rows = await tx.all(
    "SELECT t.ticket_id FROM ost_ticket t JOIN ost_ticket_status s ON s.id = t.status_id" +
      " WHERE t.isoverdue = 0 AND s.state = 'open' AND ((t.duedate IS NULL AND t.est_duedate IS NOT NULL AND" +
      " t.est_duedate < NOW()) OR (t.duedate IS NOT NULL AND t.duedate < NOW())) ORDER BY t.ticket_id LIMIT ?",
    [limit],
  );
  return rows.map((r) => int(r, "ticket_id"));
}

/**
 * Ticket::checkOverdue (cron) in one transaction: up to `limit` overdue tickets are marked. Returns the ids
 * marked.
 */
export async function checkOverdue(tx: Sql, actor: Actor, ports: Ports = {}, limit = 100): Promise<number[]> {
  const marked: number[] = [];
  for (const id of await findOverdueTicketIds(tx, limit)) {
    if (await markOverdue(tx, id, actor, ports)) marked.push(id);
  }
  return marked;
}
