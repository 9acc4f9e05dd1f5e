import { type EntityManager, query, type Row } from "@ostmesh/db";
import { agentName, num, str } from "../osticket/reads.ts";

/** People and mailboxes osTicket's alert rules name, read from osTicket's tables. */

export interface Mailbox {
  readonly address: string;
  readonly name: string;
}

export interface Agent extends Mailbox {
  readonly id: number;
  readonly firstName: string;
  readonly lastName: string;
  /** Active and not on vacation (osTicket's Staff::isAvailable). */
  readonly available: boolean;
}

export interface Department {
  readonly id: number;
  readonly name: string;
  readonly tplId: number;
  readonly emailId: number;
  readonly autorespEmailId: number;
  readonly managerId: number;
  /** 0 primary members only, 1 also extended access with alerts, 2 alerts disabled. */
  readonly groupMembership: number;
  readonly ticketAutoResponse: boolean;
  readonly messageAutoResponse: boolean;
  readonly isPublic: boolean;
  readonly signature: string;
}

/** ost_department.group_membership: alerts go to nobody. */
export const ALERTS_DISABLED = 2;
/** ost_department.group_membership: extended-access members count only with this. */
const ALERTS_DEPT_AND_EXTENDED = 1;
/** ost_team.flags NOALERTS; ost_team_member.flags / ost_staff_dept_access.flags ALERTS. */
const TEAM_NOALERTS = 0x2;
const MEMBER_ALERTS = 0x1;
/** ost_sla.flags NOALERTS. */
export const SLA_NOALERTS = 0x4;

const AGENT_COLUMNS = "s.staff_id, s.firstname, s.lastname, s.email, s.isactive, s.onvacation";

function agentOf(row: Row): Agent {
  return {
    id: num(row.staff_id),
    firstName: str(row.firstname),
    lastName: str(row.lastname),
    name: agentName(row.firstname, row.lastname),
    address: str(row.email),
    available: num(row.isactive) === 1 && num(row.onvacation) === 0,
  };
}

export async function agentsById(em: EntityManager, ids: readonly number[]): Promise<Agent[]> {
  const wanted = [...new Set(ids.filter((id) => id > 0))];
  if (wanted.length === 0) return [];
  const rows = await query(
    em,
    `SELECT ${AGENT_COLUMNS} FROM ost_staff s WHERE s.staff_id IN (${wanted.map(() => "?").join(",")})`,
    wanted,
  );
  const byId = new Map(rows.map((r) => [num(r.staff_id), agentOf(r)]));
  return wanted.flatMap((id) => byId.get(id) ?? []);
}

export async function loadDepartment(em: EntityManager, deptId: number): Promise<Department | undefined> {
  const [row] = await query(
    em,
    "SELECT id, name, tpl_id, email_id, autoresp_email_id, manager_id, group_membership, ticket_auto_response," +
      " message_auto_response, ispublic, signature FROM ost_department WHERE id = ?",
    [deptId],
  );
  if (!row) return undefined;
  return {
    id: num(row.id),
    name: str(row.name),
    tplId: num(row.tpl_id),
    emailId: num(row.email_id),
    autorespEmailId: num(row.autoresp_email_id),
    managerId: num(row.manager_id),
    groupMembership: num(row.group_membership),
    ticketAutoResponse: num(row.ticket_auto_response) === 1,
    messageAutoResponse: num(row.message_auto_response) === 1,
    isPublic: num(row.ispublic) === 1,
    signature: str(row.signature),
  };
}

/** Members of a department who get its alerts: primary members, plus extended access with alerts on. */
export async function departmentAlertMembers(em: EntityManager, dept: Department): Promise<Agent[]> {
  if (dept.groupMembership === ALERTS_DISABLED) return [];
  const rows = await query(
    em,
    `SELECT ${AGENT_COLUMNS} FROM ost_staff s WHERE s.dept_id = ?` +
      (dept.groupMembership === ALERTS_DEPT_AND_EXTENDED
        ? " OR s.staff_id IN (SELECT staff_id FROM ost_staff_dept_access WHERE dept_id = ? AND flags & ? <> 0)"
        : "") +
      " ORDER BY s.staff_id",
    dept.groupMembership === ALERTS_DEPT_AND_EXTENDED ? [dept.id, dept.id, MEMBER_ALERTS] : [dept.id],
  );
  return rows.map(agentOf).filter((a) => a.available);
}

/** Team members who get the team's alerts (none when the team has alerts off). */
export async function teamAlertMembers(em: EntityManager, teamId: number): Promise<Agent[]> {
  if (!teamId) return [];
  const rows = await query(
    em,
    `SELECT ${AGENT_COLUMNS} FROM ost_team t JOIN ost_team_member m ON m.team_id = t.team_id` +
      " JOIN ost_staff s ON s.staff_id = m.staff_id" +
      " WHERE t.team_id = ? AND t.flags & ? = 0 AND m.flags & ? <> 0 ORDER BY s.staff_id",
    [teamId, TEAM_NOALERTS, MEMBER_ALERTS],
  );
  return rows.map(agentOf).filter((a) => a.available);
}

/** A team's lead (Team::getTeamLead), unless the team has alerts off (Team::alertsEnabled). */
export async function teamLead(em: EntityManager, teamId: number): Promise<Agent | undefined> {
  if (!teamId) return undefined;
  const [row] = await query(em, "SELECT lead_id FROM ost_team WHERE team_id = ? AND flags & ? = 0", [
    teamId,
    TEAM_NOALERTS,
  ]);
  return row ? (await agentsById(em, [num(row.lead_id)]))[0] : undefined;
}

/** The agent who last responded on a thread, if any. */
export async function lastRespondent(em: EntityManager, threadId: number): Promise<Agent | undefined> {
  const [row] = await query(
    em,
    "SELECT staff_id FROM ost_thread_entry WHERE thread_id = ? AND type = 'R' AND staff_id > 0 ORDER BY id DESC LIMIT 1",
    [threadId],
  );
  return row ? (await agentsById(em, [num(row.staff_id)]))[0] : undefined;
}

export interface SystemEmail extends Mailbox {
  readonly id: number;
  readonly noAutoResponse: boolean;
}

export async function systemEmail(em: EntityManager, emailId: number): Promise<SystemEmail | undefined> {
  if (!emailId) return undefined;
  const [row] = await query(
    em,
    "SELECT email_id, email, name, noautoresp FROM ost_email WHERE email_id = ?",
    [emailId],
  );
  return row
    ? {
        id: num(row.email_id),
        address: str(row.email),
        name: str(row.name),
        noAutoResponse: num(row.noautoresp) === 1,
      }
    : undefined;
}

/** Whether an address is one of the helpdesk's own mailboxes (osTicket never auto-responds to those). */
export async function isSystemAddress(em: EntityManager, address: string): Promise<boolean> {
  if (!address) return false;
  const rows = await query(em, "SELECT 1 FROM ost_email WHERE email = ? LIMIT 1", [address]);
  return rows.length > 0;
}

export async function topicNoAutoResponse(em: EntityManager, topicId: number): Promise<boolean> {
  if (!topicId) return false;
  const [row] = await query(em, "SELECT noautoresp FROM ost_help_topic WHERE topic_id = ?", [topicId]);
  return num(row?.noautoresp) === 1;
}

export async function slaFlags(em: EntityManager, slaId: number): Promise<number> {
  if (!slaId) return 0;
  const [row] = await query(em, "SELECT flags FROM ost_sla WHERE id = ?", [slaId]);
  return num(row?.flags);
}

/** Active collaborators of a thread (osTicket Cc's them on replies). */
export async function activeCollaborators(em: EntityManager, threadId: number): Promise<Mailbox[]> {
  const rows = await query(
    em,
    "SELECT u.name, e.address FROM ost_thread_collaborator c JOIN ost_user u ON u.id = c.user_id" +
      " JOIN ost_user_email e ON e.id = u.default_email_id WHERE c.thread_id = ? AND c.flags & 1 <> 0 ORDER BY c.id",
    [threadId],
  );
  return rows.map((r) => ({ name: str(r.name), address: str(r.address) }));
}

/** A ticket participant: the end user behind a mailbox. */
export interface Participant {
  readonly userId: number;
  readonly mailbox: Mailbox;
}

/** The thread's active collaborators with their users (Ticket::getActiveCollaborators), in the order added. */
export async function activeCollaboratorUsers(em: EntityManager, threadId: number): Promise<Participant[]> {
  const rows = await query(
    em,
    "SELECT c.user_id, u.name, e.address FROM ost_thread_collaborator c JOIN ost_user u ON u.id = c.user_id" +
      " JOIN ost_user_email e ON e.id = u.default_email_id WHERE c.thread_id = ? AND c.flags & 1 <> 0 ORDER BY c.id",
    [threadId],
  );
  return rows.map((r) => ({
    userId: num(r.user_id),
    mailbox: { name: str(r.name), address: str(r.address) },
  }));
}

/** The Message-ID an e-mailed thread entry arrived with (ost_thread_entry_email.mid), if any. */
export async function entryMessageId(em: EntityManager, entryId: number): Promise<string | undefined> {
  if (!entryId) return undefined;
  const [row] = await query(em, "SELECT mid FROM ost_thread_entry_email WHERE thread_entry_id = ? LIMIT 1", [
    entryId,
  ]);
  const mid = str(row?.mid).trim();
  return mid === "" ? undefined : mid;
}

/** The first message of a thread. */
export async function firstMessageId(em: EntityManager, threadId: number): Promise<number> {
  const [row] = await query(
    em,
    "SELECT MIN(id) AS id FROM ost_thread_entry WHERE thread_id = ? AND type = 'M' AND pid = 0",
    [threadId],
  );
  return num(row?.id);
}
