import { clone } from "@bufbuild/protobuf";
import type { Code } from "@connectrpc/connect";
import { type Principal, PrincipalSchema } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import mysql from "mysql2/promise";
import { generateOstmeshKey, ostmeshKeyPrincipal } from "../api-keys.ts";
import { loadAgentPrincipal, loadEndUserPrincipal } from "../directory.ts";
import { ANONYMOUS } from "../principal.ts";
import type { SqlQuery } from "../sql.ts";
import { OrganizationStatus } from "../tickets.ts";

/**
 * The BOLA test world: one set of osTicket rows covering every kind of caller the access rules tell
 * apart, written into a scratch copy of the fresh install (departments 1 Support, 2 Sales; roles 1 All
 * Access, 4 View only, 3 Limited Access; statuses 1 Open, 3 Closed). Agents: with access (Support, All
 * Access), view only (Support, View only), limited extra dept (Sales + Support as Limited Access), without
 * access (Sales), assigned only (Support, assigned_only), team member (Maintenance, in the team). Ticket and attachment services plug
 * their RPCs into the same world (see matrix.ts) and get the same callers.
 */

/** Every caller of the matrix. */
export const BOLA_CALLERS = [
  "agentWithAccess",
  "agentViewOnly",
  "agentLimitedExtraDept",
  "agentWithoutAccess",
  "agentAssignedOnly",
  "agentTeamMember",
  "endUserOwner",
  "endUserCollaborator",
  "endUserOther",
  "orgMemberShared",
  "orgMemberNotShared",
  "orgPrimaryContact",
  "apiKeyWithScope",
  "apiKeyWithoutScope",
  "anonymous",
] as const;
export type BolaCaller = (typeof BOLA_CALLERS)[number];

/** What a caller gets: "ok" or a Connect code. */
export type BolaOutcome = "ok" | Code;

export interface BolaWorld {
  readonly staff: Readonly<
    Record<
      | "withAccess"
      | "viewOnly"
      | "limitedExtraDept"
      | "withoutAccess"
      | "assignedOnly"
      | "teamMember"
      | "inactive",
      number
    >
  >;
  readonly users: Readonly<
    Record<
      | "owner"
      | "collaborator"
      | "other"
      | "sharedOrgOwner"
      | "sharedOrgMember"
      | "privateOrgOwner"
      | "privateOrgMember"
      | "primaryOrgOwner"
      | "primaryContact",
      number
    >
  >;
  readonly orgs: Readonly<Record<"shared" | "private" | "primaryOnly", number>>;
  readonly teamId: number;
  /**
   * Tickets: `plain` (Support, owner + collaborator, open, unassigned), `sharedOrg` (Support, owner in an
   * org sharing with everybody, assigned to the assigned-only agent), `privateOrg` (Support, owner in an
   * org that does not share), `primaryOrg` (Sales, owner in an org sharing with primary contacts, assigned
   * to the team), `closedAssigned` (Sales, closed, assigned to the assigned-only agent).
   */
  readonly tickets: Readonly<
    Record<"plain" | "sharedOrg" | "privateOrg" | "primaryOrg" | "closedAssigned", number>
  >;
  /** Thread entries of the `plain` ticket: the user's message, an agent response, an internal note. */
  readonly entries: Readonly<Record<"message" | "response" | "note", number>>;
  /** ostmesh API keys (ostmesh_api_key must exist: run the migrations first). */
  readonly apiKeys: Readonly<Record<"withScope" | "withoutScope", { id: number; secret: string }>>;
  /** The principal of each caller, as the auth interceptor would resolve it. */
  principal(caller: BolaCaller): Principal;
  close(): Promise<void>;
}

export interface BolaWorldOptions {
  /** Scopes of the "with scope" API key (default: tickets:read, tickets:write, tickets:create, files:read). */
  apiKeyScopes?: readonly string[];
  /** Scopes of the "without scope" key (default: users:read only). */
  apiKeyOtherScopes?: readonly string[];
}

export async function createBolaWorld(
  databaseUrl: string,
  options: BolaWorldOptions = {},
): Promise<BolaWorld> {
  const conn = await mysql.createConnection({ uri: databaseUrl, charset: "UTF8_GENERAL_CI" });
  await conn.query("SET SESSION sql_mode = ''");
  const insert = async (sql: string, params: unknown[] = []): Promise<number> => {
    const [result] = await conn.query<mysql.ResultSetHeader>(sql, params);
    return result.insertId;
  };
  const q: SqlQuery = async (sql, params = []) => {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(sql, [...params]);
    return rows;
  };
  const suffix = Math.random().toString(36).slice(2, 8);
  // The ticket form and its subject field, by form type and field name (ids differ per install).
  const ticketSubjectField = async () => {
    const [row] = await q(
      "SELECT f.id AS formId, ff.id AS subjectFieldId FROM ost_form f JOIN ost_form_field ff ON ff.form_id = f.id" +
        " WHERE f.type = 'T' AND ff.name = 'subject' ORDER BY f.id LIMIT 1",
    );
    if (!row) throw new Error("the database has no ticket form with a subject field");
    return { formId: Number(row.formId), subjectFieldId: Number(row.subjectFieldId) };
  };

  const agent = async (
    username: string,
    deptId: number,
    roleId: number,
    extra: { assignedOnly?: boolean; active?: boolean } = {},
  ) =>
    insert(
      "INSERT INTO ost_staff SET dept_id = ?, role_id = ?, username = ?, firstname = ?, lastname = 'Bola', email = ?," +
        " signature = '', isactive = ?, assigned_only = ?, permissions = '{\"user.dir\":1}', created = NOW(), updated = NOW()",
      [
        deptId,
        roleId,
        `${username}${suffix}`.slice(0, 32),
        username,
        `${username}.${suffix}@example.com`,
        extra.active === false ? 0 : 1,
        extra.assignedOnly ? 1 : 0,
      ],
    );
  const staff = {
    withAccess: await agent("withAccess", 1, 1),
    viewOnly: await agent("viewOnly", 1, 4),
    limitedExtraDept: await agent("limited", 2, 1),
    withoutAccess: await agent("without", 2, 1),
    assignedOnly: await agent("assignedOnly", 1, 1, { assignedOnly: true }),
    teamMember: await agent("teamMember", 3, 1),
    inactive: await agent("inactive", 1, 1, { active: false }),
  };
  await insert("INSERT INTO ost_staff_dept_access SET staff_id = ?, dept_id = 1, role_id = 3, flags = 1", [
    staff.limitedExtraDept,
  ]);
  const teamId = await insert(
    "INSERT INTO ost_team SET lead_id = 0, flags = 1, name = ?, created = NOW(), updated = NOW()",
    [`Bola team ${suffix}`],
  );
  await insert("INSERT INTO ost_team_member SET team_id = ?, staff_id = ?", [teamId, staff.teamMember]);

  const org = async (name: string, status: number) =>
    insert("INSERT INTO ost_organization SET name = ?, status = ?, created = NOW(), updated = NOW()", [
      `${name} ${suffix}`,
      status,
    ]);
  const orgs = {
    shared: await org("Shared", OrganizationStatus.SHARE_EVERYBODY),
    private: await org("Private", 0),
    primaryOnly: await org("Primary", OrganizationStatus.SHARE_PRIMARY_CONTACT),
  };
  const user = async (name: string, orgId: number, status = 0) => {
    const emailId = await insert("INSERT INTO ost_user_email SET user_id = 0, address = ?", [
      `${name}.${suffix}@example.net`,
    ]);
    const id = await insert(
      "INSERT INTO ost_user SET org_id = ?, default_email_id = ?, status = ?, name = ?, created = NOW(), updated = NOW()",
      [orgId, emailId, status, `${name} Bola`],
    );
    await conn.query("UPDATE ost_user_email SET user_id = ? WHERE id = ?", [id, emailId]);
    return id;
  };
  const users = {
    owner: await user("owner", 0),
    collaborator: await user("collaborator", 0),
    other: await user("other", 0),
    sharedOrgOwner: await user("sharedOwner", orgs.shared),
    sharedOrgMember: await user("sharedMember", orgs.shared),
    privateOrgOwner: await user("privateOwner", orgs.private),
    privateOrgMember: await user("privateMember", orgs.private),
    primaryOrgOwner: await user("primaryOwner", orgs.primaryOnly),
    primaryContact: await user("primaryContact", orgs.primaryOnly, 1),
  };

  const ticketForm = await ticketSubjectField();
  const ticket = async (o: {
    userId: number;
    deptId: number;
    statusId: number;
    staffId?: number;
    teamId?: number;
  }) => {
    const id = await insert(
      "INSERT INTO ost_ticket SET number = ?, user_id = ?, status_id = ?, dept_id = ?, staff_id = ?, team_id = ?," +
        " source = 'API', created = NOW(), updated = NOW(), lastupdate = NOW()",
      [
        String(Math.floor(100000 + Math.random() * 899999)),
        o.userId,
        o.statusId,
        o.deptId,
        o.staffId ?? 0,
        o.teamId ?? 0,
      ],
    );
    const threadId = await insert(
      "INSERT INTO ost_thread SET object_id = ?, object_type = 'T', created = NOW()",
      [id],
    );
    // Every osTicket ticket has its ticket-form entry (the subject lives there, not on ost_ticket).
    const entryId = await insert(
      "INSERT INTO ost_form_entry SET form_id = ?, object_id = ?, object_type = 'T', sort = 1, created = NOW()," +
        " updated = NOW()",
      [ticketForm.formId, id],
    );
    const subject = `BOLA ticket ${id}`;
    await insert("INSERT INTO ost_form_entry_values SET entry_id = ?, field_id = ?, value = ?", [
      entryId,
      ticketForm.subjectFieldId,
      subject,
    ]);
    await insert(
      "INSERT INTO ost_ticket__cdata SET ticket_id = ?, subject = ? ON DUPLICATE KEY UPDATE subject = VALUES(subject)",
      [id, subject],
    );
    return { id, threadId };
  };
  const plain = await ticket({ userId: users.owner, deptId: 1, statusId: 1 });
  const sharedOrg = await ticket({
    userId: users.sharedOrgOwner,
    deptId: 1,
    statusId: 1,
    staffId: staff.assignedOnly,
  });
  const privateOrg = await ticket({ userId: users.privateOrgOwner, deptId: 1, statusId: 1 });
  const primaryOrg = await ticket({ userId: users.primaryOrgOwner, deptId: 2, statusId: 1, teamId });
  const closedAssigned = await ticket({
    userId: users.other,
    deptId: 2,
    statusId: 3,
    staffId: staff.assignedOnly,
  });
  await insert(
    "INSERT INTO ost_thread_collaborator SET flags = 1, thread_id = ?, user_id = ?, role = 'M', created = NOW(), updated = NOW()",
    [plain.threadId, users.collaborator],
  );
  const entry = async (type: string, o: { staffId?: number; userId?: number }) =>
    insert(
      "INSERT INTO ost_thread_entry SET thread_id = ?, staff_id = ?, user_id = ?, type = ?, poster = 'Bola', body = ?," +
        " format = 'text', created = NOW(), updated = NOW()",
      [plain.threadId, o.staffId ?? 0, o.userId ?? 0, type, `${type} body`],
    );
  const entries = {
    message: await entry("M", { userId: users.owner }),
    response: await entry("R", { staffId: staff.withAccess }),
    note: await entry("N", { staffId: staff.withAccess }),
  };

  const apiKey = async (scopes: readonly string[]) => {
    const key = generateOstmeshKey();
    const id = await insert(
      "INSERT INTO ostmesh_api_key (key_prefix, secret_hash, description, scopes, allowed_ips, created_by, created_at)" +
        " VALUES (?, ?, ?, ?, '[]', 'test', UTC_TIMESTAMP(6))",
      [key.prefix, key.hash, `BOLA ${scopes.join(" ")}`, JSON.stringify(scopes)],
    );
    return { id, secret: key.secret, scopes };
  };
  const withScope = await apiKey(
    options.apiKeyScopes ?? ["tickets:read", "tickets:write", "tickets:create", "files:read"],
  );
  const withoutScope = await apiKey(options.apiKeyOtherScopes ?? ["users:read"]);

  const principals = new Map<BolaCaller, Principal>();
  const agentP = async (id: number) => {
    const p = await loadAgentPrincipal(q, id);
    if (!p) throw new Error(`agent ${id} has no principal`);
    return p;
  };
  const userP = async (id: number) => {
    const p = await loadEndUserPrincipal(q, id);
    if (!p) throw new Error(`user ${id} has no principal`);
    return p;
  };
  principals.set("agentWithAccess", await agentP(staff.withAccess));
  principals.set("agentViewOnly", await agentP(staff.viewOnly));
  principals.set("agentLimitedExtraDept", await agentP(staff.limitedExtraDept));
  principals.set("agentWithoutAccess", await agentP(staff.withoutAccess));
  principals.set("agentAssignedOnly", await agentP(staff.assignedOnly));
  principals.set("agentTeamMember", await agentP(staff.teamMember));
  principals.set("endUserOwner", await userP(users.owner));
  principals.set("endUserCollaborator", await userP(users.collaborator));
  principals.set("endUserOther", await userP(users.other));
  principals.set("orgMemberShared", await userP(users.sharedOrgMember));
  principals.set("orgMemberNotShared", await userP(users.privateOrgMember));
  principals.set("orgPrimaryContact", await userP(users.primaryContact));
  const keyPrincipal = (k: { id: number; scopes: readonly string[] }) =>
    ostmeshKeyPrincipal({
      id: k.id,
      prefix: "",
      description: "BOLA",
      scopes: [...k.scopes],
      allowedIps: [],
      revoked: false,
      expired: false,
    });
  principals.set("apiKeyWithScope", keyPrincipal(withScope));
  principals.set("apiKeyWithoutScope", keyPrincipal(withoutScope));
  principals.set("anonymous", ANONYMOUS);

  return {
    staff,
    users,
    orgs,
    teamId,
    tickets: {
      plain: plain.id,
      sharedOrg: sharedOrg.id,
      privateOrg: privateOrg.id,
      primaryOrg: primaryOrg.id,
      closedAssigned: closedAssigned.id,
    },
    entries,
    apiKeys: {
      withScope: { id: withScope.id, secret: withScope.secret },
      withoutScope: { id: withoutScope.id, secret: withoutScope.secret },
    },
    principal(caller) {
      const p = principals.get(caller);
      if (!p) throw new Error(`unknown caller ${caller}`);
      return clone(PrincipalSchema, p);
    },
    close: () => conn.end(),
  };
}
