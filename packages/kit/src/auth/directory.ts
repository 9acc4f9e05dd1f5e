import { create } from "@bufbuild/protobuf";
import {
  type Principal,
  PrincipalKind,
  PrincipalSchema,
} from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import {
  looksLikeEmail,
  num,
  permissionKeys,
  queryAll,
  type SqlQuery,
  type SqlRead,
  type SqlRow,
  type SqlStatement,
  str,
} from "./sql.ts";

/**
 * Principals of osTicket accounts, read from osTicket's own tables: agents from ost_staff (primary
 * department and role), ost_staff_dept_access (role per extra department), ost_role (permissions JSON) and
 * ost_team_member; end users from ost_user, ost_user_email and ost_user_account.
 */

/** ost_user_account.status bits (include/class.user.php). */
export const UserAccountStatus = {
  CONFIRMED: 0x1,
  LOCKED: 0x2,
  REQUIRE_PASSWD_RESET: 0x4,
  FORBID_PASSWD_RESET: 0x8,
} as const;

/** ost_user.status bit 0x1: primary contact of the user's organization. */
export const USER_PRIMARY_ORG_CONTACT = 0x1;

/** osTicket's "First Last" display name of an agent. */
export function agentDisplayName(first: string, last: string): string {
  return `${first} ${last}`.trim().replace(/\s+/g, " ");
}

/** Ticket::PERM_CREATE: all that the role osTicket makes up for a department without one allows. */
const CREATE_ONLY_PERMISSIONS: readonly string[] = ["ticket.create"];

/**
 * The principal of an active agent with its authority (departments with the role that applies in each,
 * teams, agent-level permissions); undefined when the agent does not exist or is not active.
 *
 * The role of each department is osTicket 1.18.1's Staff::getRole(dept): Staff::getRoles maps the primary
 * department to ost_staff.role_id and then every dept_access row to its own role, so a dept_access row for
 * the primary department overrides the primary role there. $staff->dept_access selects StaffDeptAccess with
 * select_related('dept', 'role') — inner joins — so a row whose role or department no longer exists takes no
 * part in that map. A department without a role (a missing ost_staff.role_id row, or an access row whose
 * role is gone) gets the made-up role of getRole's fallback: ticket.create only, id 0. Neither getRoles nor
 * Staff::getDepartments looks at ost_department.flags or ost_role.flags: accesses to disabled departments
 * and disabled roles count as any other. Staff::getDepartments joins dept_access without its role, so an
 * access row whose role is gone still lists its department (with the fallback role).
 *
 * The departments whose tickets the agent sees (visibleDeptIds) are Staff::getDepartments' wider list: the
 * sub-departments (by ost_department.path) of the primary and access departments and the departments the
 * agent manages besides those; getRoles does not know the extra ones, so they take getRole's fallback.
 */
export async function loadAgentPrincipal(q: SqlQuery, staffId: number): Promise<Principal | undefined> {
  const read = agentPrincipalRead(staffId);
  return read.read(await queryAll(q, read.statements));
}

/**
 * loadAgentPrincipal as statements (the agent, their department access, teams and visible departments), to
 * go in one round trip, with others where the caller has some, and how the agent is read from their rows.
 */
export function agentPrincipalRead(staffId: number): SqlRead<Principal | undefined> {
  return { statements: agentStatements(staffId), read: agentFromRows };
}

function agentStatements(staffId: number): SqlStatement[] {
  return [
    {
      sql:
        "SELECT s.staff_id, s.username, s.firstname, s.lastname, s.email, s.dept_id, s.role_id, s.isactive," +
        " s.isadmin, s.assigned_only, s.permissions, s.extra, r.id AS role_found, r.permissions AS role_permissions" +
        " FROM ost_staff s LEFT JOIN ost_role r ON r.id = s.role_id WHERE s.staff_id = ?",
      params: [staffId],
    },
    {
      sql:
        "SELECT a.dept_id, a.role_id, r.id AS role_found, r.permissions FROM ost_staff_dept_access a" +
        " JOIN ost_department d ON d.id = a.dept_id LEFT JOIN ost_role r ON r.id = a.role_id" +
        " WHERE a.staff_id = ? ORDER BY a.dept_id",
      params: [staffId],
    },
    { sql: "SELECT team_id FROM ost_team_member WHERE staff_id = ? ORDER BY team_id", params: [staffId] },
    // Staff::getDepartments: each department whose path holds the primary department or an access row's
    // department (itself and its sub-departments), and each one the agent manages. The access rows are
    // left-joined without their department or role, and only departments that exist are listed.
    {
      sql:
        "SELECT DISTINCT d.id FROM ost_staff s LEFT JOIN ost_staff_dept_access a ON a.staff_id = s.staff_id" +
        " JOIN ost_department d ON (LOCATE(CONCAT('/', s.dept_id, '/'), d.path) > 0 OR d.manager_id = s.staff_id" +
        " OR LOCATE(CONCAT('/', a.dept_id, '/'), d.path) > 0) WHERE s.staff_id = ? ORDER BY d.id",
      params: [staffId],
    },
  ];
}

function agentFromRows(results: readonly (readonly SqlRow[])[]): Principal | undefined {
  const [[staff] = [], access = [], teams = [], visible = []] = results;
  if (!staff || num(staff.isactive) !== 1) return undefined;
  const primaryDeptId = num(staff.dept_id);
  // Staff::getRoles: the primary role first, each dept_access row with an existing role over it.
  const roles = new Map<number, { roleId: number; permissions: string[] }>();
  const rolePermissions = permissionKeys(staff.role_permissions);
  if (num(staff.role_found) !== 0)
    roles.set(primaryDeptId, { roleId: num(staff.role_id), permissions: rolePermissions });
  for (const row of access) {
    if (num(row.role_found) !== 0)
      roles.set(num(row.dept_id), { roleId: num(row.role_id), permissions: permissionKeys(row.permissions) });
  }
  const deptIds = [primaryDeptId, ...access.map((row) => num(row.dept_id))];
  const departments = [...new Set(deptIds)]
    .filter((deptId) => deptId !== 0)
    .map((deptId) => ({
      deptId,
      ...(roles.get(deptId) ?? { roleId: 0, permissions: [...CREATE_ONLY_PERMISSIONS] }),
    }));
  const first = str(staff.firstname);
  const last = str(staff.lastname);
  return create(PrincipalSchema, {
    actor: {
      kind: PrincipalKind.AGENT,
      id: num(staff.staff_id),
      displayName: agentDisplayName(first, last),
      username: str(staff.username),
    },
    email: str(staff.email),
    agent: {
      isAdmin: num(staff.isadmin) === 1,
      primaryDeptId,
      roleId: num(staff.role_id),
      rolePermissions,
      departments,
      teamIds: teams.map((t) => num(t.team_id)),
      assignedOnly: num(staff.assigned_only) === 1,
      permissions: permissionKeys(staff.permissions),
      visibleDeptIds: visible.map((row) => num(row.id)),
      noPrimaryRoleOnAssignment: !usePrimaryRoleOnAssignment(staff.extra),
    },
  });
}

/**
 * Staff::usePrimaryRoleOnAssignment: ost_staff.extra's def_assn_role, on when the JSON has no such key (or
 * null, or the JSON does not decode); off only for a value PHP takes as false (false, 0, "", "0", [], {}).
 */
export function usePrimaryRoleOnAssignment(extra: unknown): boolean {
  if (extra === null || extra === undefined) return true;
  let decoded: unknown;
  try {
    decoded = JSON.parse(String(extra));
  } catch {
    return true;
  }
  if (typeof decoded !== "object" || decoded === null || !("def_assn_role" in decoded)) return true;
  const value: unknown = Reflect.get(decoded, "def_assn_role");
  if (value === null) return true;
  // json_decode(..., true) makes arrays of JSON arrays and objects: falsy when empty.
  if (typeof value === "object") return Object.keys(value).length > 0;
  return !(value === false || value === 0 || value === "" || value === "0");
}

/**
 * The principal of an end user; undefined when the user does not exist or has a client account that is
 * locked. Users without an account (e-mail-only requesters) are valid principals.
 */
export async function loadEndUserPrincipal(q: SqlQuery, userId: number): Promise<Principal | undefined> {
  const read = endUserPrincipalRead(userId);
  return read.read(await queryAll(q, read.statements));
}

/** loadEndUserPrincipal as a statement, to go in one round trip with others, and how it is read. */
export function endUserPrincipalRead(userId: number): SqlRead<Principal | undefined> {
  return {
    statements: [
      {
        sql:
          "SELECT u.id, u.name, e.address, a.status AS account_status FROM ost_user u" +
          " LEFT JOIN ost_user_email e ON e.id = u.default_email_id" +
          " LEFT JOIN ost_user_account a ON a.user_id = u.id WHERE u.id = ? LIMIT 1",
        params: [userId],
      },
    ],
    read: (results) => {
      const user = results[0]?.[0];
      if (!user) return undefined;
      if (user.account_status !== null && (num(user.account_status) & UserAccountStatus.LOCKED) !== 0)
        return undefined;
      const email = str(user.address);
      return create(PrincipalSchema, {
        actor: {
          kind: PrincipalKind.END_USER,
          id: num(user.id),
          displayName: str(user.name),
          username: email,
        },
        email,
      });
    },
  };
}

/** ost_staff.staff_id for a login name: the e-mail address when it looks like one, else the username. */
export async function findAgentIdByLogin(q: SqlQuery, login: string): Promise<number | undefined> {
  const column = looksLikeEmail(login) ? "email" : "username";
  const rows = await q(`SELECT staff_id FROM ost_staff WHERE ${column} = ? ORDER BY staff_id LIMIT 2`, [
    login,
  ]);
  // ost_staff.email is not unique: an address shared by two agents names nobody.
  return rows.length === 1 && rows[0] ? num(rows[0].staff_id) : undefined;
}

/** ost_user.id for one of the user's e-mail addresses (compared case-insensitively by the collation). */
export async function findUserIdByEmail(q: SqlQuery, email: string): Promise<number | undefined> {
  const [row] = await q("SELECT user_id FROM ost_user_email WHERE address = ? AND user_id > 0 LIMIT 1", [
    email,
  ]);
  return row ? num(row.user_id) : undefined;
}

/**
 * ost_user.id of the client account a login names: by any of the user's e-mail addresses when it looks
 * like one, else by the account username (osTicket's UserAccount::lookupByUsername).
 */
export async function findAccountUserIdByLogin(q: SqlQuery, login: string): Promise<number | undefined> {
  const rows = looksLikeEmail(login)
    ? await q(
        "SELECT a.user_id FROM ost_user_account a JOIN ost_user_email e ON e.user_id = a.user_id" +
          " WHERE e.address = ? LIMIT 1",
        [login],
      )
    : await q("SELECT user_id FROM ost_user_account WHERE username = ? LIMIT 1", [login]);
  const [row] = rows;
  return row ? num(row.user_id) : undefined;
}

/** Which kinds of account an OIDC claim may name, tried in this order. */
export type OidcAccountKinds = "agent" | "end_user" | "agent_then_end_user";

/**
 * Maps an OIDC claim value to an active agent or end user: `email` matches e-mail addresses
 * (ost_staff.email, ost_user_email.address); any other claim matches agent usernames and client-account
 * usernames (or addresses, if the value is one).
 */
export function oidcAccountResolver(
  q: SqlQuery,
  kinds: OidcAccountKinds,
): (claim: string, value: string) => Promise<Principal | undefined> {
  return async (claim, value) => {
    const byEmail = claim === "email";
    if (kinds !== "end_user") {
      const staffId = byEmail
        ? looksLikeEmail(value)
          ? await findAgentIdByLogin(q, value)
          : undefined
        : await findAgentIdByLogin(q, value);
      if (staffId !== undefined) {
        const agent = await loadAgentPrincipal(q, staffId);
        if (agent) return agent;
      }
      if (kinds === "agent") return undefined;
    }
    const userId = byEmail ? await findUserIdByEmail(q, value) : await findAccountUserIdByLogin(q, value);
    return userId === undefined ? undefined : loadEndUserPrincipal(q, userId);
  };
}
