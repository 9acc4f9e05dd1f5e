import { create } from "@bufbuild/protobuf";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { AccessRuleSchema } from "@ostmesh/proto/gen/osticket/common/v1/access_pb.js";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkAccessRule } from "./access.ts";
import { loadAgentPrincipal } from "./directory.ts";
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
