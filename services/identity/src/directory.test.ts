import { create, fromBinary, toJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { execute } from "@ostmesh/db";
import { stampEventId } from "@ostmesh/proto";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { AgentSchema } from "@ostmesh/proto/gen/osticket/identity/v1/identity_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "./passwords.ts";
import { type IdentityHarness, identityHarness } from "./testing.ts";

async function codeOf(work: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await work;
    return "ok";
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

describe("identity: directory of users, organizations, agents, teams and roles", () => {
  let h: IdentityHarness;
  let admin: Headers;
  let plainAgent: Headers;
  let plainAgentId: number;
  const exec = (sql: string, params: unknown[] = []) => execute(h.orm.em.fork(), sql, params);

  beforeAll(async () => {
    h = await identityHarness("iddir");
    admin = await h.adminHeaders();
    // An agent without user.* / org.* permissions.
    ({ insertId: plainAgentId } = await exec(
      "INSERT INTO ost_staff SET dept_id = 2, role_id = 3, username = 'erin', firstname = 'Erin', lastname = 'Zeta'," +
        " email = 'erin@example.org', passwd = ?, signature = '', isactive = 1, permissions = '{}', created = NOW(), updated = NOW()",
      [await hashPassword("Erin-Pass-1")],
    ));
    const login = await h.client.login({
      kind: PrincipalKind.AGENT,
      username: "erin",
      password: "Erin-Pass-1",
    });
    plainAgent = new Headers({ authorization: `Bearer ${login.tokens?.accessToken}` });
  });
  afterAll(async () => {
    await h?.close();
  });

  describe("users", () => {
    let userId: number;

    it("creates a user in osTicket's rows: e-mail, user, form entry, values, cdata, search row, outbox event", async () => {
      const res = await h.client.createUser(
        { email: "Trace.User@Example.net", name: "User, Trace", phone: "555-123-4567 x12", answers: {} },
        { headers: admin },
      );
      const user = res.user;
      userId = user?.id ?? 0;
      expect(user).toMatchObject({
        name: "Trace User",
        email: "Trace.User@Example.net",
        orgId: 0,
        status: 0,
      });
      expect(user?.emails).toEqual(["Trace.User@Example.net"]);
      expect(user?.answers.map((a) => [a.name, a.value])).toEqual([
        ["phone", "5551234567X12"],
        ["notes", ""],
      ]);
      expect(user?.createdAt).toBeDefined();
      const [email] = await h.q("SELECT id, user_id, flags, address FROM ost_user_email WHERE user_id = ?", [
        userId,
      ]);
      expect(email).toMatchObject({ address: "Trace.User@Example.net", flags: 0 });
      const [row] = await h.q(
        "SELECT org_id, default_email_id, status, name, created = updated AS same FROM ost_user WHERE id = ?",
        [userId],
      );
      expect(row).toMatchObject({ org_id: 0, default_email_id: email?.id, status: 0, name: "Trace User" });
      const entries = await h.q(
        "SELECT id, form_id, object_type, sort FROM ost_form_entry WHERE object_type = 'U' AND object_id = ?",
        [userId],
      );
      expect(entries).toEqual([{ id: expect.any(Number), form_id: 1, object_type: "U", sort: 1 }]);
      const values = await h.q(
        "SELECT field_id, value, value_id FROM ost_form_entry_values WHERE entry_id = ? ORDER BY field_id",
        [entries[0]?.id],
      );
      // Every stored field gets a row, even when empty (value NULL); name and email are ext-stored.
      expect(values).toEqual([
        { field_id: 3, value: "5551234567X12", value_id: null },
        { field_id: 4, value: null, value_id: null },
      ]);
      const [cdata] = await h.q("SELECT email, name, phone, notes FROM ost_user__cdata WHERE user_id = ?", [
        userId,
      ]);
      expect(cdata).toEqual({ email: null, name: null, phone: "5551234567X12", notes: "" });
      const [search] = await h.q(
        "SELECT title, content FROM ost__search WHERE object_type = 'U' AND object_id = ?",
        [userId],
      );
      expect(search).toEqual({
        title: "Trace User",
        content: "(555) 123-4567 x12 Trace.User@Example.net\nTrace.User@Example.net",
      });
      const [outbox] = await h.q(
        "SELECT id, subject, aggregate_type, aggregate_id, payload FROM ostmesh_outbox WHERE aggregate_id = ? AND aggregate_type = 'user'",
        [String(userId)],
      );
      expect(outbox?.subject).toBe(`${h.eventSubjectPrefix}.user.created`);
      const stored = new Uint8Array(outbox?.payload as Buffer);
      // Stored without its id (the row did not exist yet); the relay publishes it with the outbox id.
      expect(fromBinary(EventSchema, stored).id).toBe("");
      const event = fromBinary(
        EventSchema,
        stampEventId({ id: String(outbox?.id), eventType: EventSchema.typeName, payload: stored }),
      );
      expect(event.id).toBe(String(outbox?.id));
      expect(event.type).toBe("user.created");
      expect(event.actor?.username).toBe("ostadmin");
      expect(event.payload.case === "userCreated" && event.payload.value.user?.id).toBe(userId);
    });

    it("writes the search row of a user without phone or notes as osTicket does", async () => {
      const res = await h.client.createUser(
        { email: "plain@example.net", name: "plain.person@example.net" },
        { headers: admin },
      );
      expect(res.user?.name).toBe("Plain Person");
      const [search] = await h.q(
        "SELECT content FROM ost__search WHERE object_type = 'U' AND object_id = ?",
        [res.user?.id],
      );
      expect(search?.content).toBe(" plain@example.net\nplain@example.net");
      const [cdata] = await h.q("SELECT phone, notes FROM ost_user__cdata WHERE user_id = ?", [res.user?.id]);
      expect(cdata).toEqual({ phone: "", notes: "" });
    });

    it("puts a new user into the organization whose domains match the address", async () => {
      const org = await h.client.createOrganization(
        { name: "Acme", domains: ["acme.test", ".corp.test"] },
        { headers: admin },
      );
      const a = await h.client.createUser({ email: "x@ACME.test", name: "X" }, { headers: admin });
      const b = await h.client.createUser({ email: "y@eu.corp.test", name: "Y" }, { headers: admin });
      const c = await h.client.createUser({ email: "z@notacme.test", name: "Z" }, { headers: admin });
      expect([a.user?.orgId, b.user?.orgId, c.user?.orgId]).toEqual([
        org.organization?.id,
        org.organization?.id,
        0,
      ]);
    });

    it("rejects duplicates (any case), bad input, unknown fields and organizations", async () => {
      const create = (o: Record<string, unknown>) =>
        codeOf(h.client.createUser({ email: "n@example.net", name: "N", ...o }, { headers: admin }));
      expect(await create({ email: "trace.user@EXAMPLE.net" })).toBe(Code.AlreadyExists);
      expect(await create({ email: "" })).toBe(Code.InvalidArgument);
      expect(await create({ email: "not-an-address" })).toBe(Code.InvalidArgument);
      expect(await create({ name: "  " })).toBe(Code.InvalidArgument);
      expect(await create({ phone: "call me" })).toBe(Code.InvalidArgument);
      expect(await create({ answers: { shoe_size: "42" } })).toBe(Code.InvalidArgument);
      expect(await create({ answers: { email: "other@example.net" } })).toBe(Code.InvalidArgument);
      expect(await create({ orgId: 99999 })).toBe(Code.InvalidArgument);
      // Nothing was written by the failed attempts.
      expect(await h.q("SELECT id FROM ost_user_email WHERE address = 'n@example.net'")).toEqual([]);
    });

    it("requires user.create (agents) or users:write (keys)", async () => {
      expect(
        await codeOf(h.client.createUser({ email: "p@example.net", name: "P" }, { headers: plainAgent })),
      ).toBe(Code.PermissionDenied);
      expect(await codeOf(h.client.createUser({ email: "p@example.net", name: "P" }))).toBe(
        Code.Unauthenticated,
      );
    });

    it("replays a retried create and refuses the same key for another request", async () => {
      const first = await h.client.createUser(
        { idempotencyKey: "cu-1", email: "idem@example.net", name: "Idem" },
        { headers: admin },
      );
      const again = await h.client.createUser(
        { idempotencyKey: "cu-1", email: "idem@example.net", name: "Idem" },
        { headers: admin },
      );
      expect(again.user?.id).toBe(first.user?.id);
      expect(
        await codeOf(
          h.client.createUser(
            { idempotencyKey: "cu-1", email: "idem2@example.net", name: "Idem" },
            { headers: admin },
          ),
        ),
      ).toBe(Code.FailedPrecondition);
    });

    it("gets users by id or by any address, case-insensitively", async () => {
      expect(
        (await h.client.getUser({ lookup: { case: "userId", value: userId } }, { headers: admin })).user?.id,
      ).toBe(userId);
      expect(
        (
          await h.client.getUser(
            { lookup: { case: "email", value: "TRACE.user@example.net" } },
            { headers: admin },
          )
        ).user?.id,
      ).toBe(userId);
      expect(
        await codeOf(h.client.getUser({ lookup: { case: "userId", value: 999999 } }, { headers: admin })),
      ).toBe(Code.NotFound);
      expect(
        await codeOf(
          h.client.getUser({ lookup: { case: "email", value: "ghost@example.net" } }, { headers: admin }),
        ),
      ).toBe(Code.NotFound);
      expect(await codeOf(h.client.getUser({}, { headers: admin }))).toBe(Code.InvalidArgument);
    });

    it("updates the masked fields only, as osTicket writes them, with an update event", async () => {
      const res = await h.client.updateUser(
        {
          userId,
          patch: { name: "Tracy User", phone: "555 765 4321", notes: "VIP", orgId: 0 },
          updateMask: { paths: ["name", "notes"] },
        },
        { headers: admin },
      );
      expect(res.user?.name).toBe("Tracy User");
      expect(res.user?.answers.map((a) => [a.name, a.value])).toEqual([
        ["phone", "5551234567X12"],
        ["notes", "VIP"],
      ]);
      const [cdata] = await h.q("SELECT phone, notes FROM ost_user__cdata WHERE user_id = ?", [userId]);
      expect(cdata).toEqual({ phone: "5551234567X12", notes: "VIP" });
      const [search] = await h.q(
        "SELECT title, content FROM ost__search WHERE object_type = 'U' AND object_id = ?",
        [userId],
      );
      expect(search).toEqual({
        title: "Tracy User",
        content: "(555) 123-4567 x12 VIP Trace.User@Example.net\nTrace.User@Example.net",
      });
      const [event] = await h.q(
        "SELECT payload FROM ostmesh_outbox WHERE aggregate_type = 'user' AND aggregate_id = ? ORDER BY id DESC LIMIT 1",
        [String(userId)],
      );
      const decoded = fromBinary(EventSchema, new Uint8Array(event?.payload as Buffer));
      expect(decoded.payload.case === "userUpdated" && decoded.payload.value.changed?.paths).toEqual([
        "name",
        "notes",
      ]);
    });

    it("rejects empty or unknown masks, unknown users and bad values", async () => {
      const update = (o: Record<string, unknown>) =>
        codeOf(h.client.updateUser({ userId, ...o }, { headers: admin }));
      expect(await update({ updateMask: { paths: [] } })).toBe(Code.InvalidArgument);
      expect(await update({ updateMask: { paths: ["password"] } })).toBe(Code.InvalidArgument);
      expect(await update({ updateMask: { paths: ["name"] }, patch: { name: "" } })).toBe(
        Code.InvalidArgument,
      );
      expect(await update({ updateMask: { paths: ["org_id"] }, patch: { orgId: 424242 } })).toBe(
        Code.InvalidArgument,
      );
      expect(
        await codeOf(
          h.client.updateUser(
            { userId: 999999, updateMask: { paths: ["name"] }, patch: { name: "A" } },
            { headers: admin },
          ),
        ),
      ).toBe(Code.NotFound);
      expect(
        await codeOf(h.client.updateUser({ userId: 0, updateMask: { paths: ["name"] } }, { headers: admin })),
      ).toBe(Code.InvalidArgument);
    });

    it("lets end users read and change only themselves, and only client-editable fields", async () => {
      await exec("INSERT INTO ost_user_account SET user_id = ?, status = 1, username = 'tracy', passwd = ?", [
        userId,
        await hashPassword("Tracy-Pass-1"),
      ]);
      const login = await h.client.login({
        kind: PrincipalKind.END_USER,
        username: "tracy",
        password: "Tracy-Pass-1",
      });
      const me = new Headers({ authorization: `Bearer ${login.tokens?.accessToken}` });
      expect(
        (await h.client.getUser({ lookup: { case: "userId", value: userId } }, { headers: me })).user
          ?.account,
      ).toMatchObject({
        username: "tracy",
        confirmed: true,
        locked: false,
      });
      const [other] = await h.q("SELECT id FROM ost_user WHERE id <> ? ORDER BY id LIMIT 1", [userId]);
      expect(
        await codeOf(
          h.client.getUser({ lookup: { case: "userId", value: Number(other?.id) } }, { headers: me }),
        ),
      ).toBe(Code.NotFound);
      expect(await codeOf(h.client.listUsers({}, { headers: me }))).toBe(Code.PermissionDenied);
      const renamed = await h.client.updateUser(
        {
          userId,
          patch: { name: "Tracy Self", phone: "555-000-1111" },
          updateMask: { paths: ["name", "phone"] },
        },
        { headers: me },
      );
      expect(renamed.user?.name).toBe("Tracy Self");
      expect(
        await codeOf(
          h.client.updateUser(
            { userId, patch: { notes: "x" }, updateMask: { paths: ["notes"] } },
            { headers: me },
          ),
        ),
      ).toBe(Code.PermissionDenied);
      expect(
        await codeOf(
          h.client.updateUser(
            { userId: Number(other?.id), patch: { name: "x" }, updateMask: { paths: ["name"] } },
            { headers: me },
          ),
        ),
      ).toBe(Code.NotFound);
    });

    it("lists users by name with search and cursor paging; a token is tied to its filters", async () => {
      const all: string[] = [];
      let pageToken = "";
      do {
        const page = await h.client.listUsers({ pageSize: 2, pageToken }, { headers: admin });
        expect(page.users.length).toBeLessThanOrEqual(2);
        all.push(...page.users.map((u) => u.name));
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(all).toEqual([...all].sort((a, b) => a.localeCompare(b, "en", { sensitivity: "base" })));
      expect(new Set(all).size).toBe(all.length);
      expect(all.length).toBeGreaterThanOrEqual(6);
      const byEmail = await h.client.listUsers({ query: "X@acme.TEST" }, { headers: admin });
      expect(byEmail.users.map((u) => u.email)).toEqual(["x@ACME.test"]);
      const byWords = await h.client.listUsers({ query: "tracy self" }, { headers: admin });
      expect(byWords.users.map((u) => u.id)).toEqual([userId]);
      const first = await h.client.listUsers({ pageSize: 1 }, { headers: admin });
      expect(
        await codeOf(
          h.client.listUsers({ pageSize: 1, query: "x", pageToken: first.nextPageToken }, { headers: admin }),
        ),
      ).toBe(Code.InvalidArgument);
      expect(await codeOf(h.client.listUsers({ pageToken: "garbage!" }, { headers: admin }))).toBe(
        Code.InvalidArgument,
      );
      expect(await codeOf(h.client.listUsers({ pageSize: -1 }, { headers: admin }))).toBe(
        Code.InvalidArgument,
      );
      expect(await codeOf(h.client.listUsers({}, { headers: plainAgent }))).toBe(Code.PermissionDenied);
      const org = await h.client.listOrganizations({ query: "Acme" }, { headers: admin });
      const members = await h.client.listUsers({ orgId: org.organizations[0]?.id }, { headers: admin });
      expect(members.users.map((u) => u.email).sort()).toEqual(["x@ACME.test", "y@eu.corp.test"]);
    });
  });

  describe("organizations", () => {
    let orgId: number;

    it("creates an organization with its form entry, values, cdata and search row", async () => {
      const res = await h.client.createOrganization(
        {
          name: "Globex",
          domains: ["globex.test"],
          manager: "s1",
          status: 0x08,
          answers: { phone: "(555) 222-3333", website: "https://globex.test", address: "1 Main St" },
        },
        { headers: admin },
      );
      orgId = res.organization?.id ?? 0;
      expect(res.organization).toMatchObject({
        name: "Globex",
        manager: "s1",
        status: 8,
        domains: ["globex.test"],
      });
      expect(res.organization?.answers.map((a) => [a.name, a.value])).toEqual([
        ["address", "1 Main St"],
        ["phone", "5552223333"],
        ["website", "https://globex.test"],
        ["notes", ""],
      ]);
      const [row] = await h.q(
        "SELECT name, manager, status, domain, created IS NOT NULL AS c FROM ost_organization WHERE id = ?",
        [orgId],
      );
      expect(row).toEqual({ name: "Globex", manager: "s1", status: 8, domain: "globex.test", c: 1 });
      const [cdata] = await h.q(
        "SELECT name, address, phone, website, notes FROM ost_organization__cdata WHERE org_id = ?",
        [orgId],
      );
      expect(cdata).toEqual({
        name: null,
        address: "1 Main St",
        phone: "5552223333",
        website: "https://globex.test",
        notes: "",
      });
      const [search] = await h.q(
        "SELECT title, content FROM ost__search WHERE object_type = 'O' AND object_id = ?",
        [orgId],
      );
      expect(search).toEqual({ title: "Globex", content: "1 Main St (555) 222-3333 https://globex.test" });
      const events = await h.q(
        "SELECT subject FROM ostmesh_outbox WHERE aggregate_type = 'organization' AND aggregate_id = ?",
        [String(orgId)],
      );
      expect(events.map((e) => e.subject)).toEqual([`${h.eventSubjectPrefix}.organization.created`]);
    });

    it("rejects duplicate names (any case) and bad values", async () => {
      const create = (o: Record<string, unknown>) =>
        codeOf(h.client.createOrganization({ name: "Initech", ...o }, { headers: admin }));
      expect(await create({ name: "GLOBEX" })).toBe(Code.AlreadyExists);
      expect(await create({ name: "" })).toBe(Code.InvalidArgument);
      expect(await create({ manager: "x9" })).toBe(Code.InvalidArgument);
      expect(await create({ manager: "s99999" })).toBe(Code.InvalidArgument);
      expect(await create({ status: 0x40 })).toBe(Code.InvalidArgument);
      expect(await create({ domains: ["not a domain"] })).toBe(Code.InvalidArgument);
      expect(await create({ answers: { name: "x" } })).toBe(Code.InvalidArgument);
      expect(await codeOf(h.client.createOrganization({ name: "Initech" }, { headers: plainAgent }))).toBe(
        Code.PermissionDenied,
      );
    });

    it("updates masked fields, gets and lists", async () => {
      const res = await h.client.updateOrganization(
        {
          orgId,
          patch: { name: "Globex Corp", status: 0x10, manager: "", answers: { notes: "Key account" } },
          updateMask: { paths: ["name", "status", "answers"] },
        },
        { headers: admin },
      );
      expect(res.organization).toMatchObject({ name: "Globex Corp", status: 0x10, manager: "s1" });
      expect(res.organization?.answers.find((a) => a.name === "notes")?.value).toBe("Key account");
      const got = await h.client.getOrganization({ orgId }, { headers: admin });
      expect(got.organization?.name).toBe("Globex Corp");
      expect(await codeOf(h.client.getOrganization({ orgId: 999999 }, { headers: admin }))).toBe(
        Code.NotFound,
      );
      expect(await codeOf(h.client.getOrganization({ orgId: 0 }, { headers: admin }))).toBe(
        Code.InvalidArgument,
      );
      expect(
        await codeOf(
          h.client.updateOrganization(
            { orgId, updateMask: { paths: ["name"] }, patch: { name: "Acme" } },
            { headers: admin },
          ),
        ),
      ).toBe(Code.AlreadyExists);
      expect(
        await codeOf(h.client.updateOrganization({ orgId, updateMask: { paths: [] } }, { headers: admin })),
      ).toBe(Code.InvalidArgument);
      expect(
        await codeOf(
          h.client.updateOrganization(
            { orgId: 999999, updateMask: { paths: ["status"] } },
            { headers: admin },
          ),
        ),
      ).toBe(Code.NotFound);
      const list = await h.client.listOrganizations({ pageSize: 1 }, { headers: admin });
      expect(list.organizations).toHaveLength(1);
      const rest = await h.client.listOrganizations(
        { pageSize: 50, pageToken: list.nextPageToken },
        { headers: admin },
      );
      const names = [...list.organizations, ...rest.organizations].map((o) => o.name);
      expect(names).toContain("Globex Corp");
      expect(names).toContain("osTicket");
      expect(
        (await h.client.listOrganizations({ query: "globex.test" }, { headers: admin })).organizations.map(
          (o) => o.id,
        ),
      ).toEqual([orgId]);
      expect(
        await codeOf(
          h.client.listOrganizations({ query: "other", pageToken: list.nextPageToken }, { headers: admin }),
        ),
      ).toBe(Code.InvalidArgument);
      // Organizations are for agents and keys, not end users or anonymous callers.
      expect(await codeOf(h.client.getOrganization({ orgId }))).toBe(Code.Unauthenticated);
    });
  });

  describe("agents, teams, roles", () => {
    it("reads agents by id or username, never with a password hash", async () => {
      const res = await h.client.getAgent(
        { lookup: { case: "username", value: "ostadmin" } },
        { headers: admin },
      );
      expect(res.agent).toMatchObject({
        id: 1,
        firstName: "Admin",
        lastName: "User",
        displayName: "Admin User",
        email: "admin@example.org",
        deptId: 1,
        roleId: 1,
        isActive: true,
        isAdmin: true,
      });
      expect(res.agent?.departmentAccess).toEqual([
        expect.objectContaining({ deptId: 2, roleId: 1, alerts: true }),
        expect.objectContaining({ deptId: 3, roleId: 1, alerts: true }),
      ]);
      expect(res.agent?.permissions).toContain("user.create");
      expect(toJsonString(AgentSchema, res.agent ?? create(AgentSchema))).not.toContain("$2");
      expect(
        (await h.client.getAgent({ lookup: { case: "staffId", value: plainAgentId } }, { headers: admin }))
          .agent?.username,
      ).toBe("erin");
      expect(
        await codeOf(h.client.getAgent({ lookup: { case: "staffId", value: 999 } }, { headers: admin })),
      ).toBe(Code.NotFound);
      expect(await codeOf(h.client.getAgent({}, { headers: admin }))).toBe(Code.InvalidArgument);
    });

    it("lists agents by last name with department, team and text filters", async () => {
      const all = await h.client.listAgents({}, { headers: admin });
      expect(all.agents.map((a) => a.lastName)).toEqual([...all.agents.map((a) => a.lastName)].sort());
      const sales = await h.client.listAgents({ deptId: 2 }, { headers: admin });
      expect(sales.agents.map((a) => a.username).sort()).toEqual(["erin", "ostadmin"]);
      expect(
        (await h.client.listAgents({ query: "zeta" }, { headers: admin })).agents.map((a) => a.id),
      ).toEqual([plainAgentId]);
      expect((await h.client.listAgents({ teamId: 1 }, { headers: admin })).agents).toEqual([]);
      await exec("INSERT INTO ost_team_member SET team_id = 1, staff_id = ?", [plainAgentId]);
      expect((await h.client.listAgents({ teamId: 1 }, { headers: admin })).agents.map((a) => a.id)).toEqual([
        plainAgentId,
      ]);
      const page = await h.client.listAgents({ pageSize: 1 }, { headers: admin });
      const next = await h.client.listAgents(
        { pageSize: 1, pageToken: page.nextPageToken },
        { headers: admin },
      );
      expect(next.agents[0]?.id).not.toBe(page.agents[0]?.id);
      expect(
        await codeOf(h.client.listAgents({ pageToken: page.nextPageToken, deptId: 2 }, { headers: admin })),
      ).toBe(Code.InvalidArgument);
      expect(await codeOf(h.client.listAgents({}))).toBe(Code.Unauthenticated);
      await exec("UPDATE ost_staff SET isactive = 0 WHERE staff_id = ?", [plainAgentId]);
      expect((await h.client.listAgents({ query: "zeta" }, { headers: admin })).agents).toEqual([]);
      expect(
        (await h.client.listAgents({ query: "zeta", includeInactive: true }, { headers: admin })).agents,
      ).toHaveLength(1);
      await exec("UPDATE ost_staff SET isactive = 1 WHERE staff_id = ?", [plainAgentId]);
    });

    it("lists teams with members and roles with their permissions", async () => {
      const teams = await h.client.listTeams({}, { headers: admin });
      expect(teams.teams[0]).toMatchObject({
        id: 1,
        name: "Level I Support",
        enabled: true,
        noAlerts: false,
      });
      expect(teams.teams[0]?.memberIds).toContain(plainAgentId);
      await exec("UPDATE ost_team SET flags = 0 WHERE team_id = 1");
      expect((await h.client.listTeams({}, { headers: admin })).teams).toEqual([]);
      expect((await h.client.listTeams({ includeDisabled: true }, { headers: admin })).teams).toHaveLength(1);
      await exec("UPDATE ost_team SET flags = 1 WHERE team_id = 1");
      expect(await codeOf(h.client.listTeams({}))).toBe(Code.Unauthenticated);
      expect(await codeOf(h.client.listTeams({ pageSize: -5 }, { headers: admin }))).toBe(
        Code.InvalidArgument,
      );
      const roles = await h.client.listRoles({}, { headers: admin });
      expect(roles.roles.map((r) => r.name)).toEqual([
        "All Access",
        "Expanded Access",
        "Limited Access",
        "View only",
      ]);
      expect(roles.roles[0]?.permissions).toContain("ticket.delete");
      expect(roles.roles[3]?.permissions).toEqual([]);
      const paged = await h.client.listRoles({ pageSize: 3 }, { headers: admin });
      const rest = await h.client.listRoles(
        { pageSize: 3, pageToken: paged.nextPageToken },
        { headers: admin },
      );
      expect(rest.roles.map((r) => r.name)).toEqual(["View only"]);
      expect(rest.nextPageToken).toBe("");
      expect(await codeOf(h.client.listRoles({}))).toBe(Code.Unauthenticated);
    });
  });

  describe("Authorize", () => {
    it("answers authorization questions for the gateway by the services' own rules", async () => {
      const gateway = await h.gatewayHeaders();
      const login = await h.client.login({
        kind: PrincipalKind.AGENT,
        username: "erin",
        password: "Erin-Pass-1",
      });
      const erin = login.principal;
      const { insertId: ticketId } = await exec(
        "INSERT INTO ost_ticket SET number = '900001', user_id = 0, status_id = 1, dept_id = 1, created = NOW(), updated = NOW()",
      );
      await exec("INSERT INTO ost_thread SET object_id = ?, object_type = 'T', created = NOW()", [ticketId]);
      const ask = (procedure: string, o: { principal?: typeof erin; ticketId?: number } = {}) =>
        h.client.authorize(
          { procedure, principal: o.principal, ticketId: o.ticketId ?? 0 },
          { headers: gateway },
        );
      // Erin (Sales, Limited Access) cannot see a Support ticket.
      expect(
        await ask("osticket.ticket.v1.TicketService/GetTicket", {
          principal: erin,
          ticketId: Number(ticketId),
        }),
      ).toMatchObject({
        allowed: false,
        reason: "ticket not found",
      });
      expect(await ask("/osticket.ticket.v1.TicketService/CreateTicket", { principal: erin })).toMatchObject({
        allowed: true,
      });
      expect(await ask("osticket.identity.v1.IdentityService/CreateUser", { principal: erin })).toMatchObject(
        {
          allowed: false,
          reason: "missing permission user.create",
        },
      );
      // Absent principal: the caller (the gateway service) itself.
      expect(await ask("osticket.ticket.v1.TicketService/RecordSystemLog")).toMatchObject({ allowed: true });
      expect(await codeOf(ask("osticket.ticket.v1.TicketService/Nope"))).toBe(Code.InvalidArgument);
      expect(await codeOf(h.client.authorize({ procedure: "x" }, { headers: admin }))).toBe(
        Code.PermissionDenied,
      );
    });
  });
});
