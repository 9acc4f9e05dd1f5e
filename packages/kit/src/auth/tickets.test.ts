import { clone, create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { createOrm, execute, type Orm, query, runMigrations } from "@ostmesh/db";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { PrincipalKind, PrincipalSchema } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { ThreadEntryType } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AccessDecision } from "./access.ts";
import { idOf, kindOf } from "./principal.ts";
import type { SqlQuery } from "./sql.ts";
import {
  BOLA_CALLERS,
  type BolaCaller,
  type BolaOutcome,
  type BolaWorld,
  createBolaWorld,
} from "./testing/world.ts";
import {
  decideThreadEntryAccess,
  decideTicketAccess,
  loadAttachmentAccessFacts,
  loadEndUserOrgFacts,
  loadTicketAccessFacts,
  ticketVisibilityFilter,
} from "./tickets.ts";

const NF = Code.NotFound;
const PD = Code.PermissionDenied;
const UA = Code.Unauthenticated;

type Ticket = "plain" | "sharedOrg" | "privateOrg" | "primaryOrg" | "closedAssigned";

/**
 * Who sees which ticket (no permission asked), straight from osTicket's rules: department access unless
 * assigned-only, open tickets assigned to the agent or a team of theirs, owners, collaborators, and
 * organization members where the organization shares.
 */
const VISIBILITY: Record<BolaCaller, Record<Ticket, BolaOutcome>> = {
  agentWithAccess: { plain: "ok", sharedOrg: "ok", privateOrg: "ok", primaryOrg: NF, closedAssigned: NF },
  agentViewOnly: { plain: "ok", sharedOrg: "ok", privateOrg: "ok", primaryOrg: NF, closedAssigned: NF },
  agentLimitedExtraDept: {
    plain: "ok",
    sharedOrg: "ok",
    privateOrg: "ok",
    primaryOrg: "ok",
    closedAssigned: "ok",
  },
  agentWithoutAccess: { plain: NF, sharedOrg: NF, privateOrg: NF, primaryOrg: "ok", closedAssigned: "ok" },
  agentAssignedOnly: { plain: NF, sharedOrg: "ok", privateOrg: NF, primaryOrg: NF, closedAssigned: NF },
  agentTeamMember: { plain: NF, sharedOrg: NF, privateOrg: NF, primaryOrg: "ok", closedAssigned: NF },
  endUserOwner: { plain: "ok", sharedOrg: NF, privateOrg: NF, primaryOrg: NF, closedAssigned: NF },
  endUserCollaborator: { plain: "ok", sharedOrg: NF, privateOrg: NF, primaryOrg: NF, closedAssigned: NF },
  endUserOther: { plain: NF, sharedOrg: NF, privateOrg: NF, primaryOrg: NF, closedAssigned: "ok" },
  orgMemberShared: { plain: NF, sharedOrg: "ok", privateOrg: NF, primaryOrg: NF, closedAssigned: NF },
  orgMemberNotShared: { plain: NF, sharedOrg: NF, privateOrg: NF, primaryOrg: NF, closedAssigned: NF },
  orgPrimaryContact: { plain: NF, sharedOrg: NF, privateOrg: NF, primaryOrg: "ok", closedAssigned: NF },
  apiKeyWithScope: { plain: "ok", sharedOrg: "ok", privateOrg: "ok", primaryOrg: "ok", closedAssigned: "ok" },
  apiKeyWithoutScope: {
    plain: "ok",
    sharedOrg: "ok",
    privateOrg: "ok",
    primaryOrg: "ok",
    closedAssigned: "ok",
  },
  anonymous: { plain: UA, sharedOrg: UA, privateOrg: UA, primaryOrg: UA, closedAssigned: UA },
};

/** ticket.reply on the plain ticket (Support): by the role in Support, PERMISSION_DENIED when visible without it. */
const REPLY_PLAIN: Partial<Record<BolaCaller, BolaOutcome>> = {
  agentWithAccess: "ok",
  agentViewOnly: PD,
  agentLimitedExtraDept: PD, // Limited Access in Support has no ticket.reply
  agentWithoutAccess: NF,
  agentAssignedOnly: NF,
};

describe("osTicket ticket access rules (BOLA matrix over the domain functions)", () => {
  let db: ScratchDatabase;
  let orm: Orm;
  let world: BolaWorld;
  let q: SqlQuery;

  beforeAll(async () => {
    db = await createScratchDatabase({ label: "authrules" });
    orm = await createOrm({ url: db.url });
    await runMigrations(orm);
    world = await createBolaWorld(db.url);
    q = (sql, params = []) => query(orm.em.fork(), sql, params);
  });
  afterAll(async () => {
    await world?.close();
    await orm?.close();
    await db?.drop();
  });

  const outcome = (d: AccessDecision): BolaOutcome => (d.allowed ? "ok" : d.code);

  async function decide(caller: BolaCaller, ticket: Ticket, permission?: string): Promise<BolaOutcome> {
    const principal = world.principal(caller);
    const facts = await loadTicketAccessFacts(q, world.tickets[ticket]);
    const endUser =
      kindOf(principal) === PrincipalKind.END_USER
        ? await loadEndUserOrgFacts(q, idOf(principal))
        : undefined;
    return outcome(decideTicketAccess(principal, facts, { permission, endUser }));
  }

  it("decides visibility of every ticket for every caller exactly as osTicket does", async () => {
    const mismatches: string[] = [];
    for (const caller of BOLA_CALLERS) {
      for (const [ticket, expected] of Object.entries(VISIBILITY[caller])) {
        const actual = await decide(caller, ticket as Ticket);
        if (actual !== expected)
          mismatches.push(`${caller} / ${ticket}: expected ${expected}, got ${actual}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it("takes permissions from the role in the ticket's department (NOT_FOUND before PERMISSION_DENIED)", async () => {
    for (const [caller, expected] of Object.entries(REPLY_PLAIN)) {
      expect(`${caller}: ${await decide(caller as BolaCaller, "plain", "ticket.reply")}`).toBe(
        `${caller}: ${expected}`,
      );
    }
    // Limited Access in Support may assign; All Access in Sales may reply.
    expect(await decide("agentLimitedExtraDept", "plain", "ticket.assign")).toBe("ok");
    expect(await decide("agentLimitedExtraDept", "primaryOrg", "ticket.reply")).toBe("ok");
    // Assigned through the team outside the agent's departments: the primary role applies.
    expect(await decide("agentTeamMember", "primaryOrg", "ticket.reply")).toBe("ok");
    // Assigned-only agent on the ticket assigned to them: role of Support applies.
    expect(await decide("agentAssignedOnly", "sharedOrg", "ticket.close")).toBe("ok");
  });

  it("answers NOT_FOUND for a ticket that does not exist, whoever asks (UNAUTHENTICATED for anonymous)", async () => {
    for (const caller of BOLA_CALLERS) {
      const d = decideTicketAccess(world.principal(caller), await loadTicketAccessFacts(q, 999_999));
      expect(`${caller}: ${outcome(d)}`).toBe(`${caller}: ${caller === "anonymous" ? UA : NF}`);
    }
  });

  it("limits list queries with a SQL filter that agrees with the per-ticket decision for every caller", async () => {
    const ids = Object.values(world.tickets);
    for (const caller of BOLA_CALLERS) {
      const principal = world.principal(caller);
      const endUser =
        kindOf(principal) === PrincipalKind.END_USER
          ? await loadEndUserOrgFacts(q, idOf(principal))
          : undefined;
      const expected = (Object.entries(world.tickets) as [Ticket, number][])
        .filter(([name]) => VISIBILITY[caller][name] === "ok")
        .map(([, id]) => id)
        .sort((a, b) => a - b);
      // Without referrals, osTicket's list rule and its one-ticket rule agree.
      for (const rule of ["list", "view"] as const) {
        const filter = ticketVisibilityFilter(principal, endUser, "t", rule);
        const rows = await q(
          `SELECT t.ticket_id FROM ost_ticket t WHERE ${filter.sql} AND t.ticket_id IN (${ids.map(() => "?").join(",")}) ORDER BY t.ticket_id`,
          [...filter.params, ...ids],
        );
        const listed = rows.map((r) => Number(r.ticket_id));
        expect(`${caller} ${rule}: ${listed.join(",")}`).toBe(`${caller} ${rule}: ${expected.join(",")}`);
      }
    }
  });

  it("lists a collaborator's tickets only while collaborator_ticket_visibility is on (include/client/tickets.inc.php); opening one by id does not depend on it", async () => {
    const collaborator = world.principal("endUserCollaborator");
    const plain = world.tickets.plain;
    const listed = async () => {
      const endUser = await loadEndUserOrgFacts(q, idOf(collaborator));
      const filter = ticketVisibilityFilter(collaborator, endUser, "t", "list");
      const rows = await q(`SELECT t.ticket_id FROM ost_ticket t WHERE ${filter.sql} AND t.ticket_id = ?`, [
        ...filter.params,
        plain,
      ]);
      const facts = await loadTicketAccessFacts(q, plain);
      return {
        listed: rows.length === 1,
        view: outcome(decideTicketAccess(collaborator, facts, { endUser })),
      };
    };
    const setting = async (value: string | null) => {
      const em = orm.em.fork();
      await execute(
        em,
        "DELETE FROM ost_config WHERE namespace = 'core' AND `key` = 'collaborator_ticket_visibility'",
      );
      if (value !== null)
        await execute(
          em,
          "INSERT INTO ost_config SET namespace = 'core', `key` = 'collaborator_ticket_visibility', value = ?, updated = NOW()",
          [value],
        );
    };
    try {
      await setting("0");
      expect(await listed()).toEqual({ listed: false, view: "ok" });
      await setting("1");
      expect(await listed()).toEqual({ listed: true, view: "ok" });
      // osTicket's default (Config::$defaults) when the row is missing: on.
      await setting(null);
      expect(await listed()).toEqual({ listed: true, view: "ok" });
    } finally {
      await setting("1");
    }
  });
  it("sees by department every department of Staff::getDepartments, with getRole's fallback role outside the agent's own (Ticket::checkStaffPerm, Staff::getTicketsVisibility)", async () => {
    // Sales agent whose visible departments (sub-departments, managed ones) include Support, the plain
    // ticket's department, without a role there: visible in GetTicket and in lists alike, ticket.create only.
    const agentOf = (visibleDeptIds: number[]) =>
      create(PrincipalSchema, {
        actor: { kind: PrincipalKind.AGENT, id: 999_001 },
        agent: {
          primaryDeptId: 2,
          roleId: 1,
          rolePermissions: ["ticket.reply"],
          departments: [{ deptId: 2, roleId: 1, permissions: ["ticket.reply"] }],
          visibleDeptIds,
        },
      });
    const listed = async (principal: ReturnType<typeof agentOf>) => {
      const filter = ticketVisibilityFilter(principal);
      const rows = await q(`SELECT t.ticket_id FROM ost_ticket t WHERE ${filter.sql} AND t.ticket_id = ?`, [
        ...filter.params,
        world.tickets.plain,
      ]);
      return rows.length === 1;
    };
    const facts = await loadTicketAccessFacts(q, world.tickets.plain);
    expect(facts?.deptId).toBe(1);
    const wider = agentOf([1, 2]);
    expect(outcome(decideTicketAccess(wider, facts))).toBe("ok");
    expect(await listed(wider)).toBe(true);
    expect(outcome(decideTicketAccess(wider, facts, { permission: "ticket.create" }))).toBe("ok");
    expect(outcome(decideTicketAccess(wider, facts, { permission: "ticket.reply" }))).toBe(PD);
    // A principal made before visibleDeptIds existed sees its own departments only.
    const older = agentOf([]);
    expect(outcome(decideTicketAccess(older, facts))).toBe(NF);
    expect(await listed(older)).toBe(false);
  });

  it("counts referrals in one ticket's view whatever its state, and in lists as Staff::getTicketsVisibility does (open only for agent and team referrals, department ones not for assigned-only agents)", async () => {
    // Sales tickets (outside Support and Maintenance), referred with real ost_thread_referral rows.
    const em = orm.em.fork();
    const referredTicket = async (
      statusId: number,
      type: "S" | "E" | "D",
      objectId: number,
      thread = "T",
    ) => {
      const { insertId: ticketId } = await execute(
        em,
        "INSERT INTO ost_ticket SET number = ?, user_id = ?, status_id = ?, dept_id = 2, source = 'API'," +
          " created = NOW(), updated = NOW(), lastupdate = NOW()",
        [String(Math.floor(100000 + Math.random() * 899999)), world.users.other, statusId],
      );
      const { insertId: threadId } = await execute(
        em,
        "INSERT INTO ost_thread SET object_id = ?, object_type = ?, created = NOW()",
        [ticketId, thread],
      );
      await execute(
        em,
        "INSERT INTO ost_thread_referral SET thread_id = ?, object_id = ?, object_type = ?, created = NOW()",
        [threadId, objectId, type],
      );
      return ticketId;
    };
    const OPEN = 1;
    const CLOSED = 3;
    const tickets = {
      openToAgent: await referredTicket(OPEN, "S", world.staff.withAccess),
      closedToAgent: await referredTicket(CLOSED, "S", world.staff.withAccess),
      openToTeam: await referredTicket(OPEN, "E", world.teamId),
      closedToTeam: await referredTicket(CLOSED, "E", world.teamId),
      closedToSupport: await referredTicket(CLOSED, "D", 1),
      // Merged into another ticket: its thread became a child thread (Thread::setExtra), whose referrals
      // count through Ticket::getThread and the child_thread branches of getTicketsVisibility.
      mergedToAgent: await referredTicket(OPEN, "S", world.staff.withAccess, "C"),
    };
    type Referred = keyof typeof tickets;
    // [GetTicket (Ticket::checkStaffPerm), ListTickets (Staff::getTicketsVisibility)]; unlisted = [NF, no].
    const expected: Partial<Record<BolaCaller, Partial<Record<Referred, [BolaOutcome, boolean]>>>> = {
      agentWithAccess: {
        openToAgent: ["ok", true],
        closedToAgent: ["ok", false],
        closedToSupport: ["ok", true],
        mergedToAgent: ["ok", true],
      },
      agentTeamMember: { openToTeam: ["ok", true], closedToTeam: ["ok", false] },
      agentAssignedOnly: { closedToSupport: ["ok", false] },
      agentViewOnly: { closedToSupport: ["ok", true] },
      agentWithoutAccess: Object.fromEntries(Object.keys(tickets).map((k) => [k, ["ok", true]])),
    };
    const ids = Object.values(tickets);
    const filtered = async (principal: ReturnType<BolaWorld["principal"]>, rule: "list" | "view") => {
      const filter = ticketVisibilityFilter(principal, undefined, "t", rule);
      const rows = await q(
        `SELECT t.ticket_id FROM ost_ticket t WHERE ${filter.sql} AND t.ticket_id IN (${ids.map(() => "?").join(",")})`,
        [...filter.params, ...ids],
      );
      return new Set(rows.map((r) => Number(r.ticket_id)));
    };
    const mismatches: string[] = [];
    for (const caller of Object.keys(expected) as BolaCaller[]) {
      const principal = world.principal(caller);
      const listed = await filtered(principal, "list");
      const viewable = await filtered(principal, "view");
      for (const [name, id] of Object.entries(tickets) as [Referred, number][]) {
        const [view, list] = expected[caller]?.[name] ?? [NF, false];
        const decided = outcome(decideTicketAccess(principal, await loadTicketAccessFacts(q, id)));
        const got = `${decided} list=${listed.has(id)} viewFilter=${viewable.has(id)}`;
        const want = `${view} list=${list} viewFilter=${view === "ok"}`;
        if (got !== want) mismatches.push(`${caller} / ${name}: expected ${want}, got ${got}`);
      }
    }
    expect(mismatches).toEqual([]);
    expect((await loadTicketAccessFacts(q, tickets.openToTeam))?.referrals.teamIds).toEqual([world.teamId]);
  });

  it("counts a team or department referral in lists only while its ost_team / ost_department row exists (Staff::getTicketsVisibility's referrals__team / referrals__dept joins), in one ticket's view regardless (Thread::isReferred)", async () => {
    const em = orm.em.fork();
    const suffix = String(Math.floor(Math.random() * 1e9));
    const { insertId: teamId } = await execute(
      em,
      "INSERT INTO ost_team SET lead_id = 0, flags = 1, name = ?, created = NOW(), updated = NOW()",
      [`Referral team ${suffix}`],
    );
    const { insertId: deptId } = await execute(
      em,
      "INSERT INTO ost_department SET name = ?, signature = '', path = '/', created = NOW(), updated = NOW()",
      [`Referral dept ${suffix}`],
    );
    const referred = async (type: "E" | "D", objectId: number) => {
      const { insertId: ticketId } = await execute(
        em,
        "INSERT INTO ost_ticket SET number = ?, user_id = ?, status_id = 1, dept_id = 2, source = 'API'," +
          " created = NOW(), updated = NOW(), lastupdate = NOW()",
        [String(Math.floor(100000 + Math.random() * 899999)), world.users.other],
      );
      const { insertId: threadId } = await execute(
        em,
        "INSERT INTO ost_thread SET object_id = ?, object_type = 'T', created = NOW()",
        [ticketId],
      );
      await execute(
        em,
        "INSERT INTO ost_thread_referral SET thread_id = ?, object_id = ?, object_type = ?, created = NOW()",
        [threadId, objectId, type],
      );
      return ticketId;
    };
    const toTeam = await referred("E", teamId);
    const toDept = await referred("D", deptId);
    // An agent whose principal still names the team and the department (issued before they were deleted).
    const agent = clone(PrincipalSchema, world.principal("agentWithAccess"));
    agent.agent?.teamIds.push(teamId);
    agent.agent?.visibleDeptIds.push(deptId);
    const seen = async (rule: "list" | "view") => {
      const filter = ticketVisibilityFilter(agent, undefined, "t", rule);
      const rows = await q(
        `SELECT t.ticket_id FROM ost_ticket t WHERE ${filter.sql} AND t.ticket_id IN (?, ?) ORDER BY t.ticket_id`,
        [...filter.params, toTeam, toDept],
      );
      return rows.map((r) => Number(r.ticket_id));
    };
    const decided = async (id: number) =>
      outcome(decideTicketAccess(agent, await loadTicketAccessFacts(q, id)));
    expect(await seen("list")).toEqual([toTeam, toDept]);
    await execute(em, "DELETE FROM ost_team WHERE team_id = ?", [teamId]);
    await execute(em, "DELETE FROM ost_department WHERE id = ?", [deptId]);
    expect(await seen("list")).toEqual([]);
    expect(await seen("view")).toEqual([toTeam, toDept]);
    expect([await decided(toTeam), await decided(toDept)]).toEqual(["ok", "ok"]);
  });

  it("lets an end user see a merged child ticket they collaborate on, and its combine/separate parent, as Ticket::checkUserAccess does (Ticket::getThread's 'C' thread), while the portal's list (include/client/tickets.inc.php) lists neither", async () => {
    const em = orm.em.fork();
    const ticket = async (o: { userId: number; flags: number; pid?: number; thread: "T" | "C" }) => {
      const { insertId: ticketId } = await execute(
        em,
        "INSERT INTO ost_ticket SET number = ?, user_id = ?, status_id = ?, dept_id = 2, source = 'API'," +
          " ticket_pid = ?, flags = ?, created = NOW(), updated = NOW(), lastupdate = NOW()",
        [
          String(Math.floor(100000 + Math.random() * 899999)),
          o.userId,
          o.pid ? 3 : 1,
          o.pid ?? null,
          o.flags,
        ],
      );
      const { insertId: threadId } = await execute(
        em,
        "INSERT INTO ost_thread SET object_id = ?, object_type = ?, created = NOW()",
        [ticketId, o.thread],
      );
      return { ticketId, threadId };
    };
    const collaborate = (threadId: number, userId: number) =>
      execute(
        em,
        "INSERT INTO ost_thread_collaborator SET thread_id = ?, user_id = ?, flags = 1, role = 'M'," +
          " created = NOW(), updated = NOW()",
        [threadId, userId],
      );
    const PARENT = 0x10;
    const COMBINE = 0x01;
    // Owned by a member of an organization that shares nothing, so only the merge rules can open them.
    const owner = world.users.privateOrgOwner;
    const combined = await ticket({ userId: owner, flags: PARENT | COMBINE, thread: "T" });
    const combinedChild = await ticket({
      userId: world.users.other,
      flags: COMBINE,
      pid: combined.ticketId,
      thread: "C",
    });
    await collaborate(combinedChild.threadId, world.users.collaborator);
    const visual = await ticket({ userId: owner, flags: PARENT, thread: "T" });
    const visualChild = await ticket({ userId: owner, flags: 0, pid: visual.ticketId, thread: "C" });
    await collaborate(visualChild.threadId, world.users.collaborator);
    const tickets = {
      combined: combined.ticketId,
      combinedChild: combinedChild.ticketId,
      visual: visual.ticketId,
      visualChild: visualChild.ticketId,
    };
    type Merged = keyof typeof tickets;
    // [GetTicket (Ticket::checkUserAccess), client portal list]; unlisted = [NF, no].
    const expected: Partial<Record<BolaCaller, Partial<Record<Merged, [BolaOutcome, boolean]>>>> = {
      endUserCollaborator: {
        combined: ["ok", false],
        combinedChild: ["ok", false],
        visualChild: ["ok", false],
      },
      // The child's owner: the child by ownership (listed), the combine parent through it.
      endUserOther: { combined: ["ok", false], combinedChild: ["ok", true] },
      endUserOwner: {},
    };
    const ids = Object.values(tickets);
    const mismatches: string[] = [];
    for (const caller of Object.keys(expected) as BolaCaller[]) {
      const principal = world.principal(caller);
      const endUser = await loadEndUserOrgFacts(q, idOf(principal));
      const filtered = async (rule: "list" | "view") => {
        const filter = ticketVisibilityFilter(principal, endUser, "t", rule);
        const rows = await q(
          `SELECT t.ticket_id FROM ost_ticket t WHERE ${filter.sql} AND t.ticket_id IN (${ids.map(() => "?").join(",")})`,
          [...filter.params, ...ids],
        );
        return new Set(rows.map((r) => Number(r.ticket_id)));
      };
      const listed = await filtered("list");
      const viewable = await filtered("view");
      for (const [name, id] of Object.entries(tickets) as [Merged, number][]) {
        const [view, list] = expected[caller]?.[name] ?? [NF, false];
        const facts = await loadTicketAccessFacts(q, id);
        const got = `${outcome(decideTicketAccess(principal, facts, { endUser }))} list=${listed.has(id)} viewFilter=${viewable.has(id)}`;
        const want = `${view} list=${list} viewFilter=${view === "ok"}`;
        if (got !== want) mismatches.push(`${caller} / ${name}: expected ${want}, got ${got}`);
      }
    }
    expect(mismatches).toEqual([]);
    // Ticket::getThread / getCollaborators of the merged child: its 'C' thread.
    const childFacts = await loadTicketAccessFacts(q, combinedChild.ticketId);
    expect(childFacts?.threadId).toBe(combinedChild.threadId);
    expect(childFacts?.collaboratorUserIds).toEqual([world.users.collaborator]);
    expect((await loadTicketAccessFacts(q, visual.ticketId))?.mergedChildren).toEqual([]);
  });

  it("hides internal notes (and their attachments) from end users, not from agents", async () => {
    const facts = await loadTicketAccessFacts(q, world.tickets.plain);
    const owner = world.principal("endUserOwner");
    const endUser = await loadEndUserOrgFacts(q, idOf(owner));
    const entry = (type: ThreadEntryType, flags = 0) => ({ type, flags });
    expect(outcome(decideThreadEntryAccess(owner, facts, entry(ThreadEntryType.MESSAGE), { endUser }))).toBe(
      "ok",
    );
    expect(outcome(decideThreadEntryAccess(owner, facts, entry(ThreadEntryType.RESPONSE), { endUser }))).toBe(
      "ok",
    );
    expect(outcome(decideThreadEntryAccess(owner, facts, entry(ThreadEntryType.NOTE), { endUser }))).toBe(NF);
    expect(
      outcome(decideThreadEntryAccess(owner, facts, entry(ThreadEntryType.RESPONSE, 0x4), { endUser })),
    ).toBe(NF);
    expect(
      outcome(
        decideThreadEntryAccess(world.principal("agentWithAccess"), facts, entry(ThreadEntryType.NOTE)),
      ),
    ).toBe("ok");
    expect(outcome(decideThreadEntryAccess(owner, facts, undefined, { endUser }))).toBe(NF);

    // An attachment on the note resolves to the note's ticket and type.
    const em = orm.em.fork();
    const { insertId: fileId } = await execute(
      em,
      "INSERT INTO ost_file SET ft = 'T', bk = 'D', type = 'text/plain', size = 1, `key` = 'k', signature = 's'," +
        " name = 'n.txt', created = NOW()",
    );
    const { insertId: attachmentId } = await execute(
      em,
      "INSERT INTO ost_attachment SET object_id = ?, type = 'H', file_id = ?, inline = 0",
      [world.entries.note, fileId],
    );
    const attachment = await loadAttachmentAccessFacts(q, attachmentId);
    expect(attachment?.entry.type).toBe(ThreadEntryType.NOTE);
    expect(attachment?.ticket.ticketId).toBe(world.tickets.plain);
    expect(outcome(decideThreadEntryAccess(owner, attachment?.ticket, attachment?.entry, { endUser }))).toBe(
      NF,
    );
    expect(await loadAttachmentAccessFacts(q, 999_999)).toBeUndefined();
  });
});
