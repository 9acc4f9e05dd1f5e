import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { EntityManager } from "@ostmesh/db";
import { query } from "@ostmesh/db";
import { agentDisplayName, num, permissionKeys, str } from "@ostmesh/kit/auth/index.ts";
import {
  type Agent,
  AgentSchema,
  type Role,
  RoleSchema,
  type Team,
  TeamSchema,
} from "@ostmesh/proto/gen/osticket/identity/v1/identity_pb.js";
import { type CursorKey, decodePageToken, pageOf, pageSize } from "../paging.ts";
import { fromUnixSeconds } from "../times.ts";
import { escapeLike } from "./common.ts";

/** Agents, teams and roles, read-only (osTicket's admin panel manages them). Never the password hash. */

export async function loadAgents(em: EntityManager, ids: readonly number[]): Promise<Agent[]> {
  if (ids.length === 0) return [];
  const marks = ids.map(() => "?").join(",");
  const rows = await query(
    em,
    "SELECT staff_id, username, firstname, lastname, email, dept_id, role_id, isactive, isadmin, isvisible," +
      " onvacation, assigned_only, permissions, UNIX_TIMESTAMP(created) AS created_s," +
      ` UNIX_TIMESTAMP(lastlogin) AS lastlogin_s FROM ost_staff WHERE staff_id IN (${marks})`,
    ids,
  );
  const access = await query(
    em,
    `SELECT staff_id, dept_id, role_id, flags FROM ost_staff_dept_access WHERE staff_id IN (${marks}) ORDER BY dept_id`,
    ids,
  );
  const teams = await query(
    em,
    `SELECT staff_id, team_id FROM ost_team_member WHERE staff_id IN (${marks}) ORDER BY team_id`,
    ids,
  );
  const byId = new Map(
    rows.map((r) => {
      const id = num(r.staff_id);
      const first = str(r.firstname);
      const last = str(r.lastname);
      return [
        id,
        create(AgentSchema, {
          id,
          username: str(r.username),
          firstName: first,
          lastName: last,
          displayName: agentDisplayName(first, last),
          email: str(r.email),
          deptId: num(r.dept_id),
          roleId: num(r.role_id),
          isActive: num(r.isactive) === 1,
          isAdmin: num(r.isadmin) === 1,
          isVisible: num(r.isvisible) === 1,
          onVacation: num(r.onvacation) === 1,
          assignedOnly: num(r.assigned_only) === 1,
          departmentAccess: access
            .filter((a) => num(a.staff_id) === id)
            .map((a) => ({
              deptId: num(a.dept_id),
              roleId: num(a.role_id),
              alerts: (num(a.flags) & 1) !== 0,
            })),
          teamIds: teams.filter((t) => num(t.staff_id) === id).map((t) => num(t.team_id)),
          permissions: permissionKeys(r.permissions),
          createdAt: fromUnixSeconds(r.created_s),
          lastLoginAt: fromUnixSeconds(r.lastlogin_s),
        }),
      ] as const;
    }),
  );
  return ids.flatMap((id) => {
    const agent = byId.get(id);
    return agent ? [agent] : [];
  });
}

export async function getAgent(
  em: EntityManager,
  lookup: { staffId: number } | { username: string },
): Promise<Agent | undefined> {
  const [row] =
    "staffId" in lookup
      ? await query(em, "SELECT staff_id FROM ost_staff WHERE staff_id = ?", [lookup.staffId])
      : await query(em, "SELECT staff_id FROM ost_staff WHERE username = ?", [lookup.username]);
  if (!row) return undefined;
  const [agent] = await loadAgents(em, [num(row.staff_id)]);
  return agent;
}

function cursorParts(after: CursorKey, count: number): (string | number)[] {
  if (after.length !== count)
    throw new ConnectError("page_token is invalid for this request", Code.InvalidArgument);
  return [...after];
}

export async function listAgents(
  em: EntityManager,
  request: {
    deptId: number | undefined;
    teamId: number | undefined;
    query: string;
    includeInactive: boolean;
    pageSize: number;
    pageToken: string;
  },
): Promise<{ agents: Agent[]; nextPageToken: string }> {
  const size = pageSize(request.pageSize);
  const words = request.query.trim().split(/\s+/).filter(Boolean);
  const filters = {
    d: request.deptId ?? null,
    t: request.teamId ?? null,
    q: words,
    i: request.includeInactive,
  };
  const after = decodePageToken(request.pageToken, filters);
  const where: string[] = [];
  const params: unknown[] = [];
  if (!request.includeInactive) where.push("s.isactive = 1");
  if (request.deptId !== undefined) {
    where.push(
      "(s.dept_id = ? OR EXISTS (SELECT 1 FROM ost_staff_dept_access da WHERE da.staff_id = s.staff_id AND da.dept_id = ?))",
    );
    params.push(request.deptId, request.deptId);
  }
  if (request.teamId !== undefined) {
    where.push("EXISTS (SELECT 1 FROM ost_team_member tm WHERE tm.staff_id = s.staff_id AND tm.team_id = ?)");
    params.push(request.teamId);
  }
  for (const word of words) {
    const like = `%${escapeLike(word)}%`;
    where.push("(s.firstname LIKE ? OR s.lastname LIKE ? OR s.username LIKE ? OR s.email LIKE ?)");
    params.push(like, like, like, like);
  }
  if (after) {
    const [last, first, id] = cursorParts(after, 3);
    where.push(
      "(s.lastname > ? OR (s.lastname = ? AND (s.firstname > ? OR (s.firstname = ? AND s.staff_id > ?))))",
    );
    params.push(last, last, first, first, id);
  }
  const rows = await query(
    em,
    `SELECT s.staff_id, s.lastname, s.firstname FROM ost_staff s${where.length ? ` WHERE ${where.join(" AND ")}` : ""}` +
      " ORDER BY s.lastname, s.firstname, s.staff_id LIMIT ?",
    [...params, size + 1],
  );
  const page = pageOf(rows, size, filters, (r) => [str(r.lastname), str(r.firstname), num(r.staff_id)]);
  return {
    agents: await loadAgents(
      em,
      page.items.map((r) => num(r.staff_id)),
    ),
    nextPageToken: page.nextPageToken,
  };
}

export async function listTeams(
  em: EntityManager,
  request: { includeDisabled: boolean; pageSize: number; pageToken: string },
): Promise<{ teams: Team[]; nextPageToken: string }> {
  const size = pageSize(request.pageSize);
  const filters = { d: request.includeDisabled };
  const after = decodePageToken(request.pageToken, filters);
  const where: string[] = [];
  const params: unknown[] = [];
  if (!request.includeDisabled) where.push("(t.flags & 1) <> 0");
  if (after) {
    const [name, id] = cursorParts(after, 2);
    where.push("(t.name > ? OR (t.name = ? AND t.team_id > ?))");
    params.push(name, name, id);
  }
  const rows = await query(
    em,
    `SELECT t.team_id, t.name, t.lead_id, t.flags FROM ost_team t${where.length ? ` WHERE ${where.join(" AND ")}` : ""}` +
      " ORDER BY t.name, t.team_id LIMIT ?",
    [...params, size + 1],
  );
  const page = pageOf(rows, size, filters, (r) => [str(r.name), num(r.team_id)]);
  const ids = page.items.map((r) => num(r.team_id));
  const members = ids.length
    ? await query(
        em,
        `SELECT team_id, staff_id FROM ost_team_member WHERE team_id IN (${ids.map(() => "?").join(",")}) ORDER BY staff_id`,
        ids,
      )
    : [];
  return {
    teams: page.items.map((r) =>
      create(TeamSchema, {
        id: num(r.team_id),
        name: str(r.name),
        leadId: num(r.lead_id),
        enabled: (num(r.flags) & 1) !== 0,
        noAlerts: (num(r.flags) & 2) !== 0,
        memberIds: members.filter((m) => num(m.team_id) === num(r.team_id)).map((m) => num(m.staff_id)),
      }),
    ),
    nextPageToken: page.nextPageToken,
  };
}

export async function listRoles(
  em: EntityManager,
  request: { pageSize: number; pageToken: string },
): Promise<{ roles: Role[]; nextPageToken: string }> {
  const size = pageSize(request.pageSize);
  const filters = {};
  const after = decodePageToken(request.pageToken, filters);
  const params: unknown[] = [];
  let where = "";
  if (after) {
    const [name, id] = cursorParts(after, 2);
    where = " WHERE (r.name > ? OR (r.name = ? AND r.id > ?))";
    params.push(name, name, id);
  }
  const rows = await query(
    em,
    `SELECT r.id, r.name, r.permissions, r.notes FROM ost_role r${where} ORDER BY r.name, r.id LIMIT ?`,
    [...params, size + 1],
  );
  const page = pageOf(rows, size, filters, (r) => [str(r.name), num(r.id)]);
  return {
    roles: page.items.map((r) =>
      create(RoleSchema, {
        id: num(r.id),
        name: str(r.name),
        permissions: permissionKeys(r.permissions),
        notes: str(r.notes),
      }),
    ),
    nextPageToken: page.nextPageToken,
  };
}
