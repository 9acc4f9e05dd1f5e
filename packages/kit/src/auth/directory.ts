import { create } from "@bufbuild/protobuf";
import {
  type Principal,
  PrincipalKind,
  PrincipalSchema,
} from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { looksLikeEmail, num, permissionKeys, type SqlQuery, str } from "./sql.ts";

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

/**
 * The principal of an active agent with its authority (departments with the role that applies in each,
 * teams, agent-level permissions); undefined when the agent does not exist or is not active.
 */
export async function loadAgentPrincipal(q: SqlQuery, staffId: number): Promise<Principal | undefined> {
  const [staff] = await q(
    "SELECT staff_id, username, firstname, lastname, email, dept_id, role_id, isactive, isadmin," +
      " assigned_only, permissions FROM ost_staff WHERE staff_id = ?",
    [staffId],
  );
  if (!staff || num(staff.isactive) !== 1) return undefined;
  const access = await q(
    "SELECT x.dept_id, x.role_id, r.permissions FROM (" +
      " SELECT dept_id, role_id, 0 AS ord FROM ost_staff WHERE staff_id = ?" +
      " UNION ALL SELECT dept_id, role_id, 1 AS ord FROM ost_staff_dept_access WHERE staff_id = ?" +
      ") x LEFT JOIN ost_role r ON r.id = x.role_id ORDER BY x.ord, x.dept_id",
    [staffId, staffId],
  );
  const teams = await q("SELECT team_id FROM ost_team_member WHERE staff_id = ? ORDER BY team_id", [staffId]);
  const seen = new Set<number>();
  const departments = [];
  for (const row of access) {
    const deptId = num(row.dept_id);
    // The primary department comes first and wins over a dept_access row for the same department.
    if (deptId === 0 || seen.has(deptId)) continue;
    seen.add(deptId);
    departments.push({ deptId, roleId: num(row.role_id), permissions: permissionKeys(row.permissions) });
  }
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
      primaryDeptId: num(staff.dept_id),
      roleId: num(staff.role_id),
      departments,
      teamIds: teams.map((t) => num(t.team_id)),
      assignedOnly: num(staff.assigned_only) === 1,
      permissions: permissionKeys(staff.permissions),
    },
  });
}

/**
 * The principal of an end user; undefined when the user does not exist or has a client account that is
 * locked. Users without an account (e-mail-only requesters) are valid principals.
 */
export async function loadEndUserPrincipal(q: SqlQuery, userId: number): Promise<Principal | undefined> {
  const [user] = await q(
    "SELECT u.id, u.name, e.address, a.status AS account_status FROM ost_user u" +
      " LEFT JOIN ost_user_email e ON e.id = u.default_email_id" +
      " LEFT JOIN ost_user_account a ON a.user_id = u.id WHERE u.id = ? LIMIT 1",
    [userId],
  );
  if (!user) return undefined;
  if (user.account_status !== null && (num(user.account_status) & UserAccountStatus.LOCKED) !== 0)
    return undefined;
  const email = str(user.address);
  return create(PrincipalSchema, {
    actor: { kind: PrincipalKind.END_USER, id: num(user.id), displayName: str(user.name), username: email },
    email,
  });
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
