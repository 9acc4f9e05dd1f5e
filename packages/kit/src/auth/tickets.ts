import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { AccessRule } from "@ostmesh/proto/gen/osticket/common/v1/access_pb.js";
import {
  type AgentAuthority,
  type Principal,
  PrincipalKind,
} from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import {
  type ThreadEntry,
  ThreadEntryType,
  type Ticket,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { type AccessDecision, ALLOW, deny } from "./access.ts";
import { USER_PRIMARY_ORG_CONTACT } from "./directory.ts";
import { accessRuleOfCall, idOf, kindOf, principalOf } from "./principal.ts";
import { num, queryAll, type SqlQuery, type SqlRead, type SqlRow, type SqlStatement, str } from "./sql.ts";

/**
 * osTicket's ticket access rules as plain functions, for every service that serves ticket data.
 *
 * Agents (Ticket::checkStaffPerm): a ticket is visible when its department is one the agent sees (primary,
 * ost_staff_dept_access, their sub-departments and managed departments: Staff::getDepartments) and the
 * agent is not limited to assigned tickets, or when the open ticket is assigned to the agent or one of the
 * agent's teams, or when its thread is referred to the agent, one of the agent's teams or departments
 * (Thread::isReferred: whatever the ticket's state, and for agents limited to assigned tickets too). A
 * permission ("ticket.reply", ...) comes from the role the agent has in the ticket's department (primary
 * or ost_staff_dept_access only); on an assigned ticket outside those departments, from the agent's own
 * role (unless def_assn_role is off); otherwise the agent can only create tickets there. Invisible →
 * NOT_FOUND (existence is not revealed); visible without the permission → PERMISSION_DENIED.
 *
 * Lists and searches (Staff::getTicketsVisibility) count referrals more narrowly than one ticket's view, and
 * osTicket itself shows the difference: a ticket referred to the agent or a team of theirs is listed only
 * while it is open, and one referred to a department of theirs is not listed to an agent limited to assigned
 * tickets — yet both open by their number (ticketVisibilityFilter against agentTicketView).
 *
 * End users (Ticket::checkUserAccess): their own tickets, tickets they collaborate on (a collaborator of the
 * ticket's thread as Ticket::getThread finds it: its own 'T' thread, else the 'C' thread a merge left it),
 * tickets of their organization's members when the organization shares with everybody (SHARE_EVERYBODY) or
 * with primary contacts (SHARE_PRIMARY_CONTACT) and they are one, and the parent of a combine/separate merge
 * when they may see one of its children by those rules. Anything else → NOT_FOUND. The client portal's list
 * (include/client/tickets.inc.php) is narrower: it matches collaborators through the 'thread' join, which is
 * the 'T' thread only, and knows nothing of merges — ticketVisibilityFilter's "list" rule. Internal notes and
 * agent-only fields are removed by the redact* helpers.
 *
 * API keys and services: decided by scope (the interceptor already checked it). SYSTEM: always.
 */

/** ost_organization.status bits (include/class.organization.php). */
export const OrganizationStatus = {
  COLLAB_ALL_MEMBERS: 0x01,
  COLLAB_PRIMARY_CONTACT: 0x02,
  ASSIGN_AGENT_MANAGER: 0x04,
  SHARE_PRIMARY_CONTACT: 0x08,
  SHARE_EVERYBODY: 0x10,
} as const;

/** ost_ticket.flags bits (include/class.ticket.php): a merge parent, and its merge type. */
export const TicketFlag = {
  COMBINE_THREADS: 0x0001,
  SEPARATE_THREADS: 0x0002,
  PARENT: 0x0010,
} as const;

/**
 * The id of ticket `${alias}`'s thread as Ticket::getThread finds it, as a scalar subquery: its own thread
 * ('T'), or, once it was merged into another ticket, its child thread ('C').
 */
export function ticketThreadSql(alias: string): string {
  return (
    `(SELECT tth.id FROM ost_thread tth WHERE tth.object_id = ${alias}.ticket_id AND tth.object_type IN ('T', 'C')` +
    " ORDER BY tth.object_type = 'T' DESC, tth.id LIMIT 1)"
  );
}

/** ost_thread_entry.flags bit HIDDEN. */
export const THREAD_ENTRY_HIDDEN = 0x004;
/** ost_form_field.flags bit CLIENT_VIEW. */
export const FORM_FIELD_CLIENT_VIEW = 0x00100;

/** What the rules need to know about one ticket. */
export interface TicketAccessFacts {
  ticketId: number;
  threadId: number;
  deptId: number;
  /** Assigned agent, 0 = none. */
  staffId: number;
  /** Assigned team, 0 = none. */
  teamId: number;
  /** Owner (ost_ticket.user_id). */
  userId: number;
  /** The owner's organization, 0 = none. */
  ownerOrgId: number;
  /** The ticket's status is in state "open" (only open tickets count as assigned). */
  isOpen: boolean;
  collaboratorUserIds: number[];
  referrals: { staffIds: number[]; teamIds: number[]; deptIds: number[] };
  /**
   * For the parent of a combine/separate merge (Ticket::isParent, getMergeType != 'visual'), its children's
   * owner and collaborators: Ticket::checkUserAccess lets an end user who may see a child see the parent.
   * Empty or absent otherwise.
   */
  mergedChildren?: MergedChildFacts[];
}

/** What Ticket::checkUserAccess looks at on a merge parent's child ticket. */
export interface MergedChildFacts {
  ticketId: number;
  userId: number;
  ownerOrgId: number;
  collaboratorUserIds: number[];
}

/** What the rules need to know about an end user asking for a ticket. */
export interface EndUserOrgFacts {
  userId: number;
  orgId: number;
  isPrimaryContact: boolean;
  /** ost_organization.status of orgId (0 when none). */
  orgStatus: number;
  /**
   * The portal's ticket list also shows the tickets the user collaborates on (osTicket's "Collaborator
   * Tickets Visibility", `collaborator_ticket_visibility`, on unless set to 0). Opening one by id does not
   * depend on it (Ticket::checkUserAccess).
   */
  listsCollaboratedTickets?: boolean;
}

export async function loadTicketAccessFacts(
  q: SqlQuery,
  ticketId: number,
): Promise<TicketAccessFacts | undefined> {
  const read = ticketAccessFactsRead(ticketId);
  return withMergedChildren(q, read.read(await queryAll(q, read.statements)));
}

/**
 * A ticket's access facts and an end user's organization facts (`userId` > 0) in one round trip where `q`
 * can batch, as authorizeTicket needs them.
 */
export async function loadTicketAndEndUserFacts(
  q: SqlQuery,
  ticketId: number,
  userId: number,
): Promise<[TicketAccessFacts | undefined, EndUserOrgFacts | undefined]> {
  const read = ticketAndEndUserFactsRead(ticketId, userId);
  return settleTicketFacts(q, read.read(await queryAll(q, read.statements)));
}

/** What ticketAndEndUserFactsRead read; settleTicketFacts finishes it. */
export interface PendingTicketFacts {
  readonly ticket: FactsRead | undefined;
  readonly endUser: EndUserOrgFacts | undefined;
}

/**
 * loadTicketAndEndUserFacts as statements for a round trip shared with other reads; settleTicketFacts
 * completes what they read (a merge parent's children take one more read).
 */
export function ticketAndEndUserFactsRead(ticketId: number, userId: number): SqlRead<PendingTicketFacts> {
  const ticket = ticketAccessFactsRead(ticketId);
  const endUser = userId > 0 ? endUserOrgFactsRead(userId) : NOTHING_MORE;
  const split = ticket.statements.length;
  return {
    statements: [...ticket.statements, ...endUser.statements],
    read: (results) => ({
      ticket: ticket.read(results.slice(0, split)),
      endUser: endUser.read(results.slice(split)),
    }),
  };
}

export async function settleTicketFacts(
  q: SqlQuery,
  pending: PendingTicketFacts,
): Promise<[TicketAccessFacts | undefined, EndUserOrgFacts | undefined]> {
  return [await withMergedChildren(q, pending.ticket), pending.endUser];
}

/** A ticket's facts as read in one go, and whether its merged children must be read after (rare). */
export interface FactsRead {
  readonly facts: TicketAccessFacts;
  readonly mergeParent: boolean;
}

/**
 * The ticket's row, its thread's collaborators and its referrals, by ticket id (the thread as
 * Ticket::getThread picks it, inside each statement), so the three travel in one round trip.
 */
function ticketAccessFactsRead(ticketId: number): SqlRead<FactsRead | undefined> {
  return {
    statements: [
      {
        sql:
          "SELECT t.ticket_id, t.dept_id, t.staff_id, t.team_id, t.user_id, t.flags, u.org_id, s.state," +
          " th.id AS thread_id" +
          " FROM ost_ticket t LEFT JOIN ost_ticket_status s ON s.id = t.status_id" +
          " LEFT JOIN ost_user u ON u.id = t.user_id" +
          ` LEFT JOIN ost_thread th ON th.id = ${ticketThreadSql("t")}` +
          " WHERE t.ticket_id = ? LIMIT 1",
        params: [ticketId],
      },
      {
        sql: `SELECT c.user_id FROM ost_thread_collaborator c WHERE c.thread_id = ${THREAD_OF_TICKET_ID}`,
        params: [ticketId],
      },
      referralsStatement(ticketId),
    ],
    read([rows = [], collaborators = [], referrals = []]) {
      const [t] = rows;
      if (!t) return undefined;
      const threadId = num(t.thread_id);
      // Only the parent of a combine or separate merge has children that matter (loadMergedChildren's own
      // condition): every other ticket skips that read.
      const flags = num(t.flags);
      const mergeParent =
        (flags & TicketFlag.PARENT) !== 0 &&
        (flags & (TicketFlag.COMBINE_THREADS | TicketFlag.SEPARATE_THREADS)) !== 0;
      return {
        mergeParent,
        facts: {
          ticketId: num(t.ticket_id),
          threadId,
          deptId: num(t.dept_id),
          staffId: num(t.staff_id),
          teamId: num(t.team_id),
          userId: num(t.user_id),
          ownerOrgId: num(t.org_id),
          isOpen: str(t.state) === "open",
          collaboratorUserIds: threadId ? collaborators.map((c) => num(c.user_id)) : [],
          referrals: referralsOf(referrals),
          mergedChildren: [],
        },
      };
    },
  };
}

async function withMergedChildren(
  q: SqlQuery,
  read: FactsRead | undefined,
): Promise<TicketAccessFacts | undefined> {
  if (!read) return undefined;
  if (!read.mergeParent) return read.facts;
  return { ...read.facts, mergedChildren: await loadMergedChildren(q, read.facts.ticketId) };
}

const NOTHING_MORE: SqlRead<undefined> = { statements: [], read: () => undefined };

/** The id of a ticket's thread as Ticket::getThread finds it, for a ticket id bound as `?`. */
const THREAD_OF_TICKET_ID =
  "(SELECT th.id FROM ost_thread th WHERE th.object_id = ? AND th.object_type IN ('T', 'C')" +
  " ORDER BY th.object_type = 'T' DESC, th.id LIMIT 1)";

/**
 * A merge parent's children as Ticket::checkUserAccess walks them (ticket_pid, each child's owner and the
 * collaborators of its thread, Ticket::getThread's 'T' or 'C'); none unless the ticket is a parent
 * (FLAG_PARENT) of a combine or separate merge (a 'visual' merge gives no access through its children).
 */
export async function loadMergedChildren(q: SqlQuery, ticketId: number): Promise<MergedChildFacts[]> {
  const children = await q(
    "SELECT ch.ticket_id, ch.user_id, u.org_id FROM ost_ticket p JOIN ost_ticket ch ON ch.ticket_pid = p.ticket_id" +
      " LEFT JOIN ost_user u ON u.id = ch.user_id" +
      " WHERE p.ticket_id = ? AND (p.flags & ?) <> 0 AND (p.flags & ?) <> 0 ORDER BY ch.sort, ch.ticket_id",
    [ticketId, TicketFlag.PARENT, TicketFlag.COMBINE_THREADS | TicketFlag.SEPARATE_THREADS],
  );
  if (children.length === 0) return [];
  const ids = children.map((c) => num(c.ticket_id));
  const collaborators = await q(
    "SELECT ch.ticket_id, c.user_id FROM ost_ticket ch JOIN ost_thread_collaborator c" +
      ` ON c.thread_id = ${ticketThreadSql("ch")} WHERE ch.ticket_id IN (${ids.map(() => "?").join(",")})`,
    ids,
  );
  return children.map((c) => ({
    ticketId: num(c.ticket_id),
    userId: num(c.user_id),
    ownerOrgId: num(c.org_id),
    collaboratorUserIds: collaborators
      .filter((r) => num(r.ticket_id) === num(c.ticket_id))
      .map((r) => num(r.user_id)),
  }));
}

/**
 * The referrals of a ticket's thread as Ticket::getThread finds it: the ticket's own thread (object_type
 * 'T'), or, once the ticket was merged into another, its child thread ('C'). ost_thread_referral.object_type
 * is ObjectModel's letter: 'S' agent, 'E' team, 'D' department.
 */
export async function loadTicketReferrals(
  q: SqlQuery,
  ticketId: number,
): Promise<TicketAccessFacts["referrals"]> {
  const statement = referralsStatement(ticketId);
  return referralsOf(await q(statement.sql, statement.params));
}

/** loadTicketReferrals as a statement for a round trip shared with other reads. */
export function ticketReferralsRead(ticketId: number): SqlRead<TicketAccessFacts["referrals"]> {
  return { statements: [referralsStatement(ticketId)], read: ([rows = []]) => referralsOf(rows) };
}

function referralsStatement(ticketId: number): SqlStatement {
  return {
    sql: `SELECT r.object_id, r.object_type FROM ost_thread_referral r WHERE r.thread_id = ${THREAD_OF_TICKET_ID}`,
    params: [ticketId],
  };
}

function referralsOf(rows: readonly SqlRow[]): TicketAccessFacts["referrals"] {
  const referred = (type: string) =>
    rows.filter((r) => str(r.object_type) === type).map((r) => num(r.object_id));
  return { staffIds: referred("S"), teamIds: referred("E"), deptIds: referred("D") };
}

export async function loadEndUserOrgFacts(q: SqlQuery, userId: number): Promise<EndUserOrgFacts> {
  const read = endUserOrgFactsRead(userId);
  return read.read(await queryAll(q, read.statements));
}

/** loadEndUserOrgFacts as a statement for a round trip shared with other reads. */
export function endUserOrgFactsRead(userId: number): SqlRead<EndUserOrgFacts> {
  return {
    statements: [
      {
        sql:
          "SELECT u.org_id, u.status, o.status AS org_status," +
          " (SELECT c.value FROM ost_config c WHERE c.namespace = 'core' AND c.`key` = 'collaborator_ticket_visibility')" +
          " AS collab_visibility FROM ost_user u LEFT JOIN ost_organization o ON o.id = u.org_id WHERE u.id = ?",
        params: [userId],
      },
    ],
    read(results) {
      const u = results[0]?.[0];
      return {
        userId,
        orgId: num(u?.org_id),
        isPrimaryContact: (num(u?.status) & USER_PRIMARY_ORG_CONTACT) !== 0,
        orgStatus: num(u?.org_status),
        listsCollaboratedTickets: configFlag(u?.collab_visibility, true),
      };
    },
  };
}

/** An ost_config switch as osTicket reads it: any value but "" and "0" is on; a missing row is `fallback`. */
function configFlag(value: unknown, fallback: boolean): boolean {
  if (value === null || value === undefined) return fallback;
  const text = String(value);
  return text !== "" && text !== "0";
}

/** Whether an end user may see the tickets of their organization's members. */
export function canSeeOrgTickets(user: EndUserOrgFacts): boolean {
  if (user.orgId === 0) return false;
  if (user.orgStatus & OrganizationStatus.SHARE_EVERYBODY) return true;
  return (user.orgStatus & OrganizationStatus.SHARE_PRIMARY_CONTACT) !== 0 && user.isPrimaryContact;
}

/**
 * The departments whose tickets an agent sees (Staff::getDepartments, which Staff::canAccessDept and
 * ThreadReferral's department check use): visibleDeptIds with the agent's own departments, which a
 * principal made before visibleDeptIds existed carries alone.
 */
export function agentVisibleDeptIds(agent: AgentAuthority): number[] {
  const ids = new Set([...agent.visibleDeptIds, ...agent.departments.map((d) => d.deptId)]);
  return [...ids].sort((a, b) => a - b);
}

/** How an agent sees one ticket: visible at all, and the permissions of the role that applies. */
export function agentTicketView(
  staffId: number,
  agent: AgentAuthority,
  facts: TicketAccessFacts,
): { visible: boolean; permissions: readonly string[] } {
  const dept = agent.departments.find((d) => d.deptId === facts.deptId);
  const visibleDepts = agentVisibleDeptIds(agent);
  const assigned =
    facts.isOpen &&
    ((facts.staffId !== 0 && facts.staffId === staffId) ||
      (facts.teamId !== 0 && agent.teamIds.includes(facts.teamId)));
  // Thread::isReferred($staff): not limited to open tickets (unlike the assignment above), nor by
  // isAccessLimited (getDepts, not canAccessDept, for department referrals).
  const referred =
    facts.referrals.staffIds.includes(staffId) ||
    facts.referrals.teamIds.some((t) => agent.teamIds.includes(t)) ||
    facts.referrals.deptIds.some((d) => visibleDepts.includes(d));
  // Ticket::checkStaffPerm: Staff::canAccessDept (getDepartments, unless access is limited to assigned).
  const visible = (!agent.assignedOnly && visibleDepts.includes(facts.deptId)) || assigned || referred;
  // Staff::getRole(dept, assigned): the role getRoles maps the department to; else, on an assigned ticket
  // and unless def_assn_role is off, the agent's own role (not the one a dept_access row sets for the
  // primary department); else ticket.create only — sub-departments and managed departments included.
  const permissions = dept
    ? dept.permissions
    : assigned && !agent.noPrimaryRoleOnAssignment
      ? agent.rolePermissions
      : ["ticket.create"];
  return { visible, permissions };
}

/** One permission, or every one of a list whose members may be alternatives (an inner list: any one). */
export type TicketPermission = string | readonly (string | readonly string[])[];

export interface TicketDecisionOptions {
  /**
   * Role permission(s) the action needs (agents: every one), e.g. "ticket.reply"; an inner list is met by
   * any one of its permissions (e.g. reopening: ticket.close or ticket.create). None = visibility only.
   */
  permission?: TicketPermission;
  /** The end user's organization facts (needed for END_USER principals; loaded by authorizeTicket). */
  endUser?: EndUserOrgFacts;
}

/** The rules above for one principal and one ticket (undefined facts = no such ticket). */
export function decideTicketAccess(
  principal: Principal,
  facts: TicketAccessFacts | undefined,
  options: TicketDecisionOptions = {},
): AccessDecision {
  const kind = kindOf(principal);
  if (kind === PrincipalKind.ANONYMOUS || kind === PrincipalKind.UNSPECIFIED)
    return deny(Code.Unauthenticated, "authentication required");
  if (!facts) return deny(Code.NotFound, "ticket not found");
  switch (kind) {
    case PrincipalKind.SYSTEM:
    case PrincipalKind.SERVICE:
    case PrincipalKind.API_KEY:
      return ALLOW;
    case PrincipalKind.AGENT: {
      if (!principal.agent) return deny(Code.NotFound, "ticket not found");
      const view = agentTicketView(idOf(principal), principal.agent, facts);
      if (!view.visible) return deny(Code.NotFound, "ticket not found");
      const needed =
        typeof options.permission === "string" ? [options.permission] : (options.permission ?? []);
      const missing = needed.find((need) =>
        typeof need === "string"
          ? !view.permissions.includes(need)
          : !need.some((alternative) => view.permissions.includes(alternative)),
      );
      if (missing !== undefined) {
        const named = typeof missing === "string" ? missing : missing.join(" or ");
        return deny(Code.PermissionDenied, `missing permission ${named} in this department`);
      }
      return ALLOW;
    }
    case PrincipalKind.END_USER: {
      const userId = idOf(principal);
      const user = options.endUser;
      // Ticket::checkUserAccess: owner, organization, collaborator, then a merge parent through its children.
      const sees = (t: { userId: number; ownerOrgId: number; collaboratorUserIds: number[] }) =>
        t.userId === userId ||
        (user !== undefined &&
          user.userId === userId &&
          canSeeOrgTickets(user) &&
          t.ownerOrgId === user.orgId) ||
        t.collaboratorUserIds.includes(userId);
      if (sees(facts) || (facts.mergedChildren ?? []).some(sees)) return ALLOW;
      return deny(Code.NotFound, "ticket not found");
    }
    default:
      return deny(Code.PermissionDenied, "unknown caller");
  }
}

/** Throws the decision's ConnectError unless it allows. */
export function assertAllowed(decision: AccessDecision): void {
  if (!decision.allowed) throw new ConnectError(publicMessage(decision.code), decision.code);
}

function publicMessage(code: Code): string {
  switch (code) {
    case Code.NotFound:
      return "ticket not found";
    case Code.Unauthenticated:
      return "authentication required";
    default:
      return "permission denied";
  }
}

/**
 * The one call a handler makes for a ticket-scoped RPC: loads the ticket's facts (and the end user's
 * organization when needed), applies the rules with the permission the RPC's access rule names, and
 * throws NOT_FOUND / PERMISSION_DENIED. Returns the facts for the handler's own use.
 */
export async function authorizeTicket(
  ctx: Pick<HandlerContext, "values">,
  q: SqlQuery,
  ticketId: number,
  options: { permission?: string; rule?: AccessRule } = {},
): Promise<TicketAccessFacts> {
  const principal = principalOf(ctx);
  const rule = options.rule ?? accessRuleOfCall(ctx);
  const permission = options.permission ?? (rule?.agentPermission || undefined);
  const [facts, endUser] = await loadTicketAndEndUserFacts(
    q,
    ticketId,
    kindOf(principal) === PrincipalKind.END_USER ? idOf(principal) : 0,
  );
  assertAllowed(decideTicketAccess(principal, facts, { permission, endUser }));
  if (!facts) throw new ConnectError("ticket not found", Code.NotFound);
  return facts;
}

/**
 * A WHERE condition limiting `ost_ticket` rows (alias `t`) to those the principal may see. `sql` is "1" for
 * callers that see every ticket and "0" for none. For agents, `rule` picks osTicket's rule: "list" for list
 * and search queries (Staff::getTicketsVisibility: referrals to the agent or a team of theirs count only
 * while the ticket is open, department referrals only when access is not limited to assigned tickets),
 * "view" for the tickets agentTicketView would open one by one (Ticket::checkStaffPerm).
 */
export function ticketVisibilityFilter(
  principal: Principal,
  endUser?: EndUserOrgFacts,
  alias = "t",
  rule: "list" | "view" = "list",
): { sql: string; params: unknown[] } {
  const kind = kindOf(principal);
  const a = alias;
  const thread = `SELECT th.id FROM ost_thread th WHERE th.object_id = ${a}.ticket_id AND th.object_type = 'T'`;
  if (kind === PrincipalKind.SYSTEM || kind === PrincipalKind.SERVICE || kind === PrincipalKind.API_KEY)
    return { sql: "1", params: [] };
  if (kind === PrincipalKind.AGENT && principal.agent) {
    const agent = principal.agent;
    const staffId = idOf(principal);
    const depts = agentVisibleDeptIds(agent);
    const teams = agent.teamIds;
    const params: unknown[] = [];
    const marks = (ids: readonly number[]) => ids.map(() => "?").join(",");
    // The ticket's thread ('T') or, for a ticket merged into another, its child thread ('C').
    const referredTo = (condition: string) =>
      `EXISTS (SELECT 1 FROM ost_thread_referral r JOIN ost_thread rt ON rt.id = r.thread_id` +
      ` WHERE rt.object_id = ${a}.ticket_id AND rt.object_type IN ('T', 'C') AND ${condition})`;
    const open = `EXISTS (SELECT 1 FROM ost_ticket_status s WHERE s.id = ${a}.status_id AND s.state = 'open')`;
    // Assigned to the agent or a team of theirs; referred to the agent or a team of theirs (one EXISTS).
    const assignee = [`${a}.staff_id = ?`];
    const assigneeParams: unknown[] = [staffId];
    // The list query reaches a team or department referral through ThreadReferral's team / dept join, so
    // it counts only while that ost_team / ost_department row exists; Thread::isReferred (the view) reads
    // the referral's ids alone.
    const exists = (table: string, column: string) =>
      rule === "list" ? ` AND EXISTS (SELECT 1 FROM ${table} ro WHERE ro.${column} = r.object_id)` : "";
    const referee = ["(r.object_type = 'S' AND r.object_id = ?)"];
    const refereeParams: unknown[] = [staffId];
    if (teams.length > 0) {
      assignee.push(`${a}.team_id IN (${marks(teams)})`);
      assigneeParams.push(...teams);
      referee.push(
        `(r.object_type = 'E' AND r.object_id IN (${marks(teams)})${exists("ost_team", "team_id")})`,
      );
      refereeParams.push(...teams);
    }
    const assigned = `(${assignee.join(" OR ")})`;
    const referred = referredTo(`(${referee.join(" OR ")})`);
    const toDepts = referredTo(
      `r.object_type = 'D' AND r.object_id IN (${marks(depts)})${exists("ost_department", "id")}`,
    );
    const inDepts = `${a}.dept_id IN (${marks(depts)})`;
    const parts: string[] = [];
    if (rule === "view") {
      // Ticket::checkStaffPerm: canAccessDept, isAssigned (open only), Thread::isReferred (any state, and
      // department referrals by getDepts even when access is limited to assigned tickets).
      parts.push(`(${open} AND ${assigned})`, referred);
      params.push(...assigneeParams, ...refereeParams);
      if (depts.length > 0) {
        parts.push(toDepts);
        params.push(...depts);
        if (!agent.assignedOnly) {
          parts.push(inDepts);
          params.push(...depts);
        }
      }
      return { sql: `(${parts.join(" OR ")})`, params };
    }
    // Staff::getTicketsVisibility: open and assigned or referred to the agent or one of their teams...
    parts.push(`(${open} AND (${assigned} OR ${referred}))`);
    params.push(...assigneeParams, ...refereeParams);
    // ...and, unless access is limited to assigned tickets, in or referred to a department of getDepts,
    // whatever the state.
    if (!agent.assignedOnly && depts.length > 0) {
      parts.push(inDepts, toDepts);
      params.push(...depts, ...depts);
    }
    return { sql: `(${parts.join(" OR ")})`, params };
  }
  if (kind === PrincipalKind.END_USER) {
    const userId = idOf(principal);
    const orgShared = endUser !== undefined && endUser.userId === userId && canSeeOrgTickets(endUser);
    // Owner, collaborator (of the thread `onThread` names), organization member's ticket, for the ticket `x`.
    const owns = (x: string, onThread: string, collaborators = true) => {
      const parts = [`${x}.user_id = ?`];
      const params: unknown[] = [userId];
      if (collaborators) {
        parts.push(`EXISTS (SELECT 1 FROM ost_thread_collaborator c WHERE ${onThread} AND c.user_id = ?)`);
        params.push(userId);
      }
      if (orgShared) {
        parts.push(`${x}.user_id IN (SELECT ou.id FROM ost_user ou WHERE ou.org_id = ?)`);
        params.push(endUser?.orgId ?? 0);
      }
      return { parts, params };
    };
    if (rule === "list") {
      // include/client/tickets.inc.php: thread__collaborators is the 'T' thread only, and only while
      // collaborator_ticket_visibility is on; merges play no part.
      const collaborators = endUser?.userId !== userId || endUser.listsCollaboratedTickets !== false;
      const { parts, params } = owns(a, `c.thread_id IN (${thread})`, collaborators);
      return { sql: `(${parts.join(" OR ")})`, params };
    }
    // Ticket::checkUserAccess: collaborators of Ticket::getThread ('T', else 'C'), and a combine/separate
    // merge parent when one of its children passes the same checks.
    const own = owns(a, `c.thread_id = ${ticketThreadSql(a)}`);
    const child = owns("ch", `c.thread_id = ${ticketThreadSql("ch")}`);
    const parent =
      `((${a}.flags & ?) <> 0 AND (${a}.flags & ?) <> 0 AND EXISTS (SELECT 1 FROM ost_ticket ch` +
      ` WHERE ch.ticket_pid = ${a}.ticket_id AND (${child.parts.join(" OR ")})))`;
    return {
      sql: `(${[...own.parts, parent].join(" OR ")})`,
      params: [
        ...own.params,
        TicketFlag.PARENT,
        TicketFlag.COMBINE_THREADS | TicketFlag.SEPARATE_THREADS,
        ...child.params,
      ],
    };
  }
  return { sql: "0", params: [] };
}

/** Whether an end user may see a thread entry: messages and responses that are not hidden. */
export function isEntryVisibleToEndUser(entry: { type: ThreadEntryType; flags: number }): boolean {
  return (
    (entry.type === ThreadEntryType.MESSAGE || entry.type === ThreadEntryType.RESPONSE) &&
    (entry.flags & THREAD_ENTRY_HIDDEN) === 0
  );
}

/** ost_thread_entry.type letters an end user may see (for SQL filters): messages and responses. */
export const END_USER_ENTRY_TYPES = ["M", "R"] as const;

/** Fields of the ticket forms that end users may see (ost_form_field.flags CLIENT_VIEW). */
export interface ClientVisibleFields {
  fieldIds: ReadonlySet<number>;
  fieldNames: ReadonlySet<string>;
}

export async function loadClientVisibleFields(q: SqlQuery): Promise<ClientVisibleFields> {
  const rows = await q(
    "SELECT f.id, f.name FROM ost_form_field f JOIN ost_form fo ON fo.id = f.form_id" +
      " WHERE fo.type IN ('T', 'G') AND (f.flags & ?) <> 0",
    [FORM_FIELD_CLIENT_VIEW],
  );
  return {
    fieldIds: new Set(rows.map((r) => num(r.id))),
    fieldNames: new Set(rows.map((r) => str(r.name)).filter((n) => n !== "")),
  };
}

/**
 * The ticket as an end user may see it (a modified copy is not made: the message is changed in place):
 * no assignee, SLA, due dates, overdue flag, IP address, mailbox or source details, only client-visible
 * form answers, and the priority only when the priority field is client-visible.
 */
export function redactTicketForEndUser(ticket: Ticket, visible: ClientVisibleFields): Ticket {
  ticket.assigneeStaff = undefined;
  ticket.assigneeTeam = undefined;
  ticket.sla = undefined;
  ticket.dueDate = undefined;
  ticket.estDueDate = undefined;
  ticket.isOverdue = false;
  ticket.ipAddress = "";
  ticket.sourceExtra = "";
  ticket.emailId = 0;
  if (!visible.fieldNames.has("priority")) ticket.priority = undefined;
  ticket.answers = ticket.answers.filter((a) => visible.fieldIds.has(a.fieldId));
  // The portal names a merged child's parent, never a parent's children (other users' tickets).
  if (ticket.relation) ticket.relation.children = [];
  return ticket;
}

/** The entries an end user may see, each without agent-only details (IP address, editor). */
export function redactThreadForEndUser(entries: readonly ThreadEntry[]): ThreadEntry[] {
  return entries.filter(isEntryVisibleToEndUser).map((entry) => {
    entry.ipAddress = "";
    entry.editor = undefined;
    return entry;
  });
}

/**
 * Access to one thread entry (and so to its attachments): the ticket rules, and for end users only
 * entries they may see — an internal note is NOT_FOUND to them.
 */
export function decideThreadEntryAccess(
  principal: Principal,
  facts: TicketAccessFacts | undefined,
  entry: { type: ThreadEntryType; flags: number } | undefined,
  options: TicketDecisionOptions = {},
): AccessDecision {
  const decision = decideTicketAccess(principal, facts, options);
  if (!decision.allowed) return decision;
  if (!entry) return deny(Code.NotFound, "thread entry not found");
  if (kindOf(principal) === PrincipalKind.END_USER && !isEntryVisibleToEndUser(entry))
    return deny(Code.NotFound, "thread entry not found");
  return decision;
}

/** ost_thread_entry.type letter → ThreadEntryType. */
export function threadEntryType(letter: string): ThreadEntryType {
  switch (letter) {
    case "M":
      return ThreadEntryType.MESSAGE;
    case "R":
      return ThreadEntryType.RESPONSE;
    case "N":
      return ThreadEntryType.NOTE;
    default:
      return ThreadEntryType.UNSPECIFIED;
  }
}

/**
 * The facts for a file attached to a ticket thread entry (ost_attachment type 'H'): the entry's type and
 * flags plus its ticket's facts; undefined when the attachment is not on a ticket thread entry.
 */
export async function loadAttachmentAccessFacts(
  q: SqlQuery,
  attachmentId: number,
): Promise<{ ticket: TicketAccessFacts; entry: { type: ThreadEntryType; flags: number } } | undefined> {
  const [row] = await q(
    "SELECT te.type, te.flags, th.object_id AS ticket_id FROM ost_attachment a" +
      " JOIN ost_thread_entry te ON te.id = a.object_id" +
      " JOIN ost_thread th ON th.id = te.thread_id AND th.object_type IN ('T', 'C')" +
      ` JOIN ost_ticket t ON t.ticket_id = th.object_id AND th.id = ${ticketThreadSql("t")}` +
      " WHERE a.id = ? AND a.type = 'H'",
    [attachmentId],
  );
  if (!row) return undefined;
  const ticket = await loadTicketAccessFacts(q, num(row.ticket_id));
  if (!ticket) return undefined;
  return { ticket, entry: { type: threadEntryType(str(row.type)), flags: num(row.flags) } };
}
