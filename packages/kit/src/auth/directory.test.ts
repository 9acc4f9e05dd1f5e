import { create } from "@bufbuild/protobuf";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { AccessRuleSchema } from "@ostmesh/proto/gen/osticket/common/v1/access_pb.js";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkAccessRule } from "./access.ts";
import { loadAgentPrincipal, usePrimaryRoleOnAssignment } from "./directory.ts";
import { mysqlQuery, type SqlQuery } from "./sql.ts";
import { agentTicketView, type TicketAccessFacts } from "./tickets.ts";

/**
 * loadAgentPrincipal against real ost_staff / ost_staff_dept_access / ost_role / ost_department rows,
 * each case as osTicket 1.18.1's include/class.staff.php resolves it. Fresh-install roles: 1 All Access,
 * 3 Limited Access, 4 View only (permissions NULL); departments 1 Support, 2 Sales, 3 Maintenance.
 */

const ALL_ACCESS = [
  "canned.manage",
  "task.assign",
  "task.close",
  "task.create",
  "task.delete",
  "task.edit",
  "task.reply",
  "task.transfer",
  "thread.edit",
  "ticket.assign",
  "ticket.close",
  "ticket.create",
  "ticket.delete",
  "ticket.edit",
  "ticket.link",
  "ticket.markanswered",
  "ticket.merge",
  "ticket.refer",
  "ticket.release",
  "ticket.reply",
  "ticket.transfer",
];
const LIMITED_ACCESS = [
  "task.assign",
  "task.reply",
  "task.transfer",
  "ticket.assign",
  "ticket.create",
  "ticket.link",
  "ticket.merge",
  "ticket.refer",
  "ticket.release",
  "ticket.transfer",
];

describe("loadAgentPrincipal: the role of each department", () => {
  let db: ScratchDatabase;
  let sql: ReturnType<typeof mysqlQuery>;
  let q: SqlQuery;
  let serial = 0;

  const insertId = async (statement: string, params: unknown[]): Promise<number> => {
    const rows = (await q(statement, params)) as unknown as { insertId: number };
    return rows.insertId;
  };
  const agent = (deptId: number, roleId: number) =>
    insertId(
      "INSERT INTO ost_staff SET dept_id = ?, role_id = ?, username = ?, firstname = 'Dept', lastname = 'Access'," +
        " email = ?, signature = '', isactive = 1, permissions = '{}', created = NOW(), updated = NOW()",
      [deptId, roleId, `deptaccess${++serial}`, `deptaccess${serial}@example.com`],
    );
  const access = (staffId: number, deptId: number, roleId: number, flags = 1) =>
    q("INSERT INTO ost_staff_dept_access SET staff_id = ?, dept_id = ?, role_id = ?, flags = ?", [
      staffId,
      deptId,
      roleId,
      flags,
    ]);
  /** A role that existed once: created, then deleted (its id is never reused). */
  const deletedRole = async () => {
    const id = await insertId(
      "INSERT INTO ost_role SET flags = 1, name = ?, permissions = '{\"ticket.reply\":1}', created = NOW(), updated = NOW()",
      [`Gone ${++serial}`],
    );
    await q("DELETE FROM ost_role WHERE id = ?", [id]);
    return id;
  };
  const departmentsOf = async (staffId: number) => {
    const principal = await loadAgentPrincipal(q, staffId);
    if (!principal?.agent) throw new Error(`agent ${staffId} has no principal`);
    return {
      roleId: principal.agent.roleId,
      rolePermissions: principal.agent.rolePermissions,
      primaryDeptId: principal.agent.primaryDeptId,
      departments: principal.agent.departments.map((d) => ({
        deptId: d.deptId,
        roleId: d.roleId,
        permissions: d.permissions,
      })),
    };
  };

  beforeAll(async () => {
    db = await createScratchDatabase({ label: "deptaccess" });
    sql = mysqlQuery(db.url, { connectionLimit: 1 });
    q = sql.query;
  });
  afterAll(async () => {
    await sql?.close();
    await db?.drop();
  });

  it("reads an agent in one round trip where the query function batches, and the same agent where it does not", async () => {
    const id = await agent(1, 1);
    await access(id, 2, 3);
    const sent: string[] = [];
    const counted: SqlQuery = Object.assign(
      (statement: string, params?: readonly unknown[]) => {
        sent.push(statement);
        return q(statement, params);
      },
      {
        batch: (statements: readonly { sql: string; params?: readonly unknown[] }[]) => {
          sent.push(statements.map((s) => s.sql).join(";\n"));
          return q.batch ? q.batch(statements) : Promise.reject(new Error("mysqlQuery should batch"));
        },
      },
    );
    const batched = await loadAgentPrincipal(counted, id);
    expect(sent).toHaveLength(1);
    const oneByOne = await loadAgentPrincipal((statement, params) => q(statement, params), id);
    expect(batched).toEqual(oneByOne);
    expect(batched?.agent?.departments.map((d) => d.deptId)).toEqual([1, 2]);
  });

  it("an access row for the primary department overrides the primary role there (Staff::getRoles, getRole)", async () => {
    // getRoles() starts from [dept_id => role] and then sets [$da->dept_id => $da->role] for every access row.
    const id = await agent(1, 1);
    await access(id, 1, 4);
    await access(id, 2, 3);
    expect(await departmentsOf(id)).toEqual({
      roleId: 1, // getRole() without a department is still ost_staff.role_id
      rolePermissions: ALL_ACCESS,
      primaryDeptId: 1,
      departments: [
        { deptId: 1, roleId: 4, permissions: [] },
        { deptId: 2, roleId: 3, permissions: LIMITED_ACCESS },
      ],
    });
  });

  it("the agent's own role, not the override, applies on an assigned ticket elsewhere and in hasPerm(perm, false) (Staff::getRole, Staff::hasPerm)", async () => {
    // Ticket::getRole asks $staff->getRole($dept, $this->isAssigned($staff)): outside the agent's departments
    // an assigned ticket gets $this->role (usePrimaryRoleOnAssignment's default), ost_staff.role_id's role.
    const id = await agent(1, 1);
    await access(id, 1, 4);
    const principal = await loadAgentPrincipal(q, id);
    if (!principal?.agent) throw new Error("no principal");
    const facts = (deptId: number, staffId: number): TicketAccessFacts => ({
      ticketId: 1,
      threadId: 1,
      deptId,
      staffId,
      teamId: 0,
      userId: 1,
      ownerOrgId: 0,
      isOpen: true,
      collaboratorUserIds: [],
      referrals: { staffIds: [], teamIds: [], deptIds: [] },
    });
    expect(agentTicketView(id, principal.agent, facts(1, id)).permissions).toEqual([]);
    expect(agentTicketView(id, principal.agent, facts(2, id)).permissions).toEqual(ALL_ACCESS);
    expect(agentTicketView(id, principal.agent, facts(2, 0))).toEqual({
      visible: false,
      permissions: ["ticket.create"],
    });
    const reply = create(AccessRuleSchema, {
      allowed: [PrincipalKind.AGENT],
      agentPermission: "ticket.reply",
    });
    expect(checkAccessRule(reply, principal)).toEqual({ allowed: true });
  });

  it("without an access row the primary department keeps the primary role (Staff::getRoles)", async () => {
    const id = await agent(2, 1);
    await access(id, 1, 3);
    expect((await departmentsOf(id)).departments).toEqual([
      { deptId: 2, roleId: 1, permissions: ALL_ACCESS },
      { deptId: 1, roleId: 3, permissions: LIMITED_ACCESS },
    ]);
  });

  it("a missing primary role leaves getRole's ticket.create-only fallback (Staff::getRole)", async () => {
    // $this->role is null, isset($roles[$deptId]) fails, getRole makes up Role {"ticket.create":1}.
    const gone = await deletedRole();
    const id = await agent(1, gone);
    expect(await departmentsOf(id)).toEqual({
      roleId: gone,
      rolePermissions: [],
      primaryDeptId: 1,
      departments: [{ deptId: 1, roleId: 0, permissions: ["ticket.create"] }],
    });
  });

  it("an access row whose role is gone takes no part in the roles, yet lists its department (Staff::getRoles, getDepartments)", async () => {
    // $staff->dept_access selects with select_related('dept', 'role'): inner joins drop the row, so the
    // primary role stands in the primary department and the other department falls back to ticket.create;
    // getDepartments() joins ost_staff_dept_access without the role and still lists that department.
    const gone = await deletedRole();
    const id = await agent(1, 1);
    await access(id, 1, gone);
    await access(id, 2, gone);
    expect((await departmentsOf(id)).departments).toEqual([
      { deptId: 1, roleId: 1, permissions: ALL_ACCESS },
      { deptId: 2, roleId: 0, permissions: ["ticket.create"] },
    ]);
  });

  it("getRole's made-up fallback role is no role for hasPerm(perm, false) (Staff::hasPerm)", async () => {
    // hasPerm(perm, false) asks getRole() and each $staff->dept_access row's role, never the fallback.
    const gone = await deletedRole();
    const id = await agent(1, 4);
    await access(id, 2, gone);
    const principal = await loadAgentPrincipal(q, id);
    if (!principal?.agent) throw new Error("no principal");
    expect(principal.agent.departments.map((d) => d.permissions)).toEqual([[], ["ticket.create"]]);
    const rule = create(AccessRuleSchema, {
      allowed: [PrincipalKind.AGENT],
      agentPermission: "ticket.create",
    });
    expect(checkAccessRule(rule, principal)).toMatchObject({ allowed: false });
  });

  it("an access to a disabled department counts like any other; one to a deleted department does not (Staff::getRoles, getDepartments)", async () => {
    // Neither looks at ost_department.flags (0x04 ACTIVE clear here); both inner-join ost_department.
    const disabled = await insertId(
      "INSERT INTO ost_department SET pid = 0, name = ?, flags = 0, ispublic = 1, path = '/', created = NOW(), updated = NOW()",
      [`Disabled ${++serial}`],
    );
    await q("UPDATE ost_department SET path = ? WHERE id = ?", [`/${disabled}/`, disabled]);
    const deleted = await insertId(
      "INSERT INTO ost_department SET pid = 0, name = ?, flags = 4, ispublic = 1, path = '/', created = NOW(), updated = NOW()",
      [`Deleted ${++serial}`],
    );
    await q("DELETE FROM ost_department WHERE id = ?", [deleted]);
    const id = await agent(2, 1);
    await access(id, disabled, 3, 0);
    await access(id, deleted, 1);
    expect((await departmentsOf(id)).departments).toEqual([
      { deptId: 2, roleId: 1, permissions: ALL_ACCESS },
      { deptId: disabled, roleId: 3, permissions: LIMITED_ACCESS },
    ]);
  });
});

describe("loadAgentPrincipal: the departments whose tickets the agent sees (Staff::getDepartments)", () => {
  let db: ScratchDatabase;
  let sql: ReturnType<typeof mysqlQuery>;
  let q: SqlQuery;
  let serial = 0;

  const insertId = async (statement: string, params: unknown[]): Promise<number> => {
    const rows = (await q(statement, params)) as unknown as { insertId: number };
    return rows.insertId;
  };
  const agent = (deptId: number, roleId: number, extra: string | null = null) =>
    insertId(
      "INSERT INTO ost_staff SET dept_id = ?, role_id = ?, username = ?, firstname = 'Dept', lastname = 'Tree'," +
        " email = ?, signature = '', isactive = 1, permissions = '{}', extra = ?, created = NOW(), updated = NOW()",
      [deptId, roleId, `depttree${++serial}`, `depttree${serial}@example.com`, extra],
    );
  /** A department under `parent` (0: top level) with osTicket's path, /<ancestors>/<id>/. */
  const department = async (parent: number, managerId = 0) => {
    const id = await insertId(
      "INSERT INTO ost_department SET pid = ?, manager_id = ?, name = ?, flags = 4, ispublic = 1, path = '/'," +
        " created = NOW(), updated = NOW()",
      [parent || null, managerId, `Tree ${++serial}`],
    );
    const [row] = parent ? await q("SELECT path FROM ost_department WHERE id = ?", [parent]) : [];
    await q("UPDATE ost_department SET path = ? WHERE id = ?", [`${row ? String(row.path) : "/"}${id}/`, id]);
    return id;
  };
  const authorityOf = async (staffId: number) => {
    const principal = await loadAgentPrincipal(q, staffId);
    if (!principal?.agent) throw new Error(`agent ${staffId} has no principal`);
    return principal.agent;
  };
  const facts = (deptId: number, staffId = 0, deptReferral = 0): TicketAccessFacts => ({
    ticketId: 1,
    threadId: 1,
    deptId,
    staffId,
    teamId: 0,
    userId: 1,
    ownerOrgId: 0,
    isOpen: true,
    collaboratorUserIds: [],
    referrals: { staffIds: [], teamIds: [], deptIds: deptReferral ? [deptReferral] : [] },
  });

  beforeAll(async () => {
    db = await createScratchDatabase({ label: "depttree" });
    sql = mysqlQuery(db.url, { connectionLimit: 1 });
    q = sql.query;
  });
  afterAll(async () => {
    await sql?.close();
    await db?.drop();
  });

  it("lists the sub-departments of the primary and access departments, and managed ones, with getRole's fallback role there (Staff::getDepartments, Staff::getRole)", async () => {
    // getDepartments joins ost_department on LOCATE('/<dept>/', d.path) for the primary department and each
    // access row, or d.manager_id = the agent; getRoles maps only the primary and access departments.
    const child = await department(1);
    const grandchild = await department(child);
    const salesChild = await department(2);
    const unrelated = await department(3);
    const id = await agent(1, 3);
    const managed = await department(0, id);
    const managedChild = await department(managed);
    await q("INSERT INTO ost_staff_dept_access SET staff_id = ?, dept_id = 2, role_id = 1, flags = 1", [id]);
    const authority = await authorityOf(id);
    expect(authority.visibleDeptIds).toEqual([1, 2, child, grandchild, salesChild, managed]);
    expect(authority.visibleDeptIds).not.toContain(unrelated);
    expect(authority.visibleDeptIds).not.toContain(managedChild); // managing is not an ancestor's path
    expect(authority.departments.map((d) => d.deptId)).toEqual([1, 2]);
    // Ticket::checkStaffPerm: visible by Staff::canAccessDept; Ticket::getRole: the fallback role.
    expect(agentTicketView(id, authority, facts(grandchild))).toEqual({
      visible: true,
      permissions: ["ticket.create"],
    });
    expect(agentTicketView(id, authority, facts(managed))).toEqual({
      visible: true,
      permissions: ["ticket.create"],
    });
    expect(agentTicketView(id, authority, facts(unrelated)).visible).toBe(false);
    // ThreadReferral: a referral to one of getDepts() makes the ticket visible.
    expect(agentTicketView(id, authority, facts(unrelated, 0, salesChild)).visible).toBe(true);
    // Assigned in a sub-department: Staff::getRole's $assigned fallback, the agent's own role (Limited).
    expect(agentTicketView(id, authority, facts(child, id)).permissions).toEqual(authority.rolePermissions);
    expect(authority.rolePermissions).toContain("ticket.assign");
  });

  it("does not list a primary department that no longer exists (Staff::getDepartments)", async () => {
    // INNER JOIN ost_department: nothing matches '/<id>/' of a deleted department without descendants.
    const gone = await department(0);
    await q("DELETE FROM ost_department WHERE id = ?", [gone]);
    const id = await agent(gone, 1);
    expect((await authorityOf(id)).visibleDeptIds).toEqual([]);
  });

  it("with def_assn_role off an assigned ticket outside the agent's departments gets ticket.create only (Staff::usePrimaryRoleOnAssignment, Staff::getRole)", async () => {
    const off = await agent(1, 1, '{"def_assn_role":false}');
    const on = await agent(1, 1, '{"def_assn_role":true}');
    const unset = await agent(1, 1, null);
    const offAuthority = await authorityOf(off);
    expect(offAuthority.noPrimaryRoleOnAssignment).toBe(true);
    expect((await authorityOf(on)).noPrimaryRoleOnAssignment).toBe(false);
    expect((await authorityOf(unset)).noPrimaryRoleOnAssignment).toBe(false);
    // Visible (assigned), but getRole($dept, true) skips the primary role: ticket.create only.
    expect(agentTicketView(off, offAuthority, facts(2, off))).toEqual({
      visible: true,
      permissions: ["ticket.create"],
    });
    expect(agentTicketView(on, await authorityOf(on), facts(2, on)).permissions).toEqual(ALL_ACCESS);
    // In the agent's own departments getRoles decides, whatever def_assn_role says.
    expect(agentTicketView(off, offAuthority, facts(1, off)).permissions).toEqual(ALL_ACCESS);
  });
});

describe("usePrimaryRoleOnAssignment (Staff::usePrimaryRoleOnAssignment: getExtraAttr('def_assn_role', true))", () => {
  it("is off only for a def_assn_role PHP takes as false, on when missing, null or undecodable", () => {
    const off = ["false", "0", '""', '"0"', "[]", "{}"].map((v) => `{"def_assn_role":${v}}`);
    for (const extra of off) expect(`${extra}: ${usePrimaryRoleOnAssignment(extra)}`).toBe(`${extra}: false`);
    const on = [null, "", "not json", "{}", '{"def_assn_role":null}', '{"def_assn_role":"0.0"}', "[false]"];
    for (const extra of on) expect(`${extra}: ${usePrimaryRoleOnAssignment(extra)}`).toBe(`${extra}: true`);
    expect(usePrimaryRoleOnAssignment('{"def_assn_role":1}')).toBe(true);
  });
});
