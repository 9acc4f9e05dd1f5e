import { create } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createClient,
  createRouterTransport,
} from "@connectrpc/connect";
import { createOrm, type Orm, query, runMigrations } from "@ostmesh/db";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { Health, TicketService } from "@ostmesh/proto";
import { HealthCheckResponse_ServingStatus } from "@ostmesh/proto/gen/grpc/health/v1/health_pb.js";
import { type Principal, PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { TicketSchema } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { osticketKeyBinding, osticketKeyPrincipal, ostmeshKeyBinding } from "./api-keys.ts";
import { authInterceptor } from "./interceptor.ts";
import { idOf, kindOf, principalOf } from "./principal.ts";
import type { SqlQuery } from "./sql.ts";
import { createTestIssuer, type TestIssuer } from "./testing/issuer.ts";
import { type BolaCase, bolaHeaders, runBolaMatrix } from "./testing/matrix.ts";
import { type BolaCaller, type BolaOutcome, type BolaWorld, createBolaWorld } from "./testing/world.ts";
import { authorizeTicket, loadEndUserOrgFacts, ticketVisibilityFilter } from "./tickets.ts";

const NF = Code.NotFound;
const PD = Code.PermissionDenied;
const UA = Code.Unauthenticated;

/**
 * A tiny TicketService: a few RPCs with the real contract's access rules, each doing exactly what the ticket
 * service's handlers must do — authorizeTicket() for ticket-scoped calls, ticketVisibilityFilter() for
 * lists — so the interceptor and the rules are tested together through real credentials.
 */
function tinyTicketService(q: SqlQuery, seen: { principal?: Principal }) {
  return (router: ConnectRouter) =>
    router.service(TicketService, {
      async getTicket(req, ctx) {
        seen.principal = principalOf(ctx);
        const ticketId = req.lookup.case === "ticketId" ? req.lookup.value : 0;
        const facts = await authorizeTicket(ctx, q, ticketId);
        return { ticket: create(TicketSchema, { id: facts.ticketId }) };
      },
      async postReply(req, ctx) {
        await authorizeTicket(ctx, q, req.ticketId);
        return {};
      },
      async postNote(req, ctx) {
        await authorizeTicket(ctx, q, req.ticketId);
        return {};
      },
      async postMessage(req, ctx) {
        await authorizeTicket(ctx, q, req.ticketId);
        return {};
      },
      async createTicket() {
        return {};
      },
      async listTickets(_req, ctx) {
        const principal = principalOf(ctx);
        const endUser =
          kindOf(principal) === PrincipalKind.END_USER
            ? await loadEndUserOrgFacts(q, idOf(principal))
            : undefined;
        const filter = ticketVisibilityFilter(principal, endUser);
        const rows = await q(
          `SELECT t.ticket_id FROM ost_ticket t WHERE ${filter.sql} ORDER BY t.ticket_id`,
          filter.params,
        );
        return { tickets: rows.map((r) => create(TicketSchema, { id: Number(r.ticket_id) })) };
      },
      async recordSystemLog() {
        return {};
      },
    });
}

const row = (
  agents: [BolaOutcome, BolaOutcome, BolaOutcome, BolaOutcome, BolaOutcome, BolaOutcome],
  users: [BolaOutcome, BolaOutcome, BolaOutcome, BolaOutcome, BolaOutcome, BolaOutcome],
  keys: [BolaOutcome, BolaOutcome],
  anonymous: BolaOutcome,
): Record<BolaCaller, BolaOutcome> => ({
  agentWithAccess: agents[0],
  agentViewOnly: agents[1],
  agentLimitedExtraDept: agents[2],
  agentWithoutAccess: agents[3],
  agentAssignedOnly: agents[4],
  agentTeamMember: agents[5],
  endUserOwner: users[0],
  endUserCollaborator: users[1],
  endUserOther: users[2],
  orgMemberShared: users[3],
  orgMemberNotShared: users[4],
  orgPrimaryContact: users[5],
  apiKeyWithScope: keys[0],
  apiKeyWithoutScope: keys[1],
  anonymous,
});

describe("auth interceptor with a tiny ticket service", () => {
  let db: ScratchDatabase;
  let orm: Orm;
  let world: BolaWorld;
  let issuer: TestIssuer;
  let q: SqlQuery;
  const seen: { principal?: Principal } = {};
  let client: ReturnType<typeof createClient<typeof TicketService>>;

  beforeAll(async () => {
    db = await createScratchDatabase({ label: "authicpt" });
    orm = await createOrm({ url: db.url });
    await runMigrations(orm);
    world = await createBolaWorld(db.url);
    issuer = await createTestIssuer();
    q = (sql, params = []) => query(orm.em.fork(), sql, params);
    const transport = createRouterTransport(tinyTicketService(q, seen), {
      router: { interceptors: [authInterceptor({ tokens: issuer.verifier, db: q })] },
    });
    client = createClient(TicketService, transport);
  });
  afterAll(async () => {
    await world?.close();
    await orm?.close();
    await db?.drop();
  });

  it("gives every caller exactly the outcome the rules say (BOLA matrix)", async () => {
    const t = () => world.tickets;
    const cases: BolaCase[] = [
      {
        name: "GetTicket(plain)",
        call: (headers) => client.getTicket({ lookup: { case: "ticketId", value: t().plain } }, { headers }),
        expect: row(["ok", "ok", "ok", NF, NF, NF], ["ok", "ok", NF, NF, NF, NF], ["ok", PD], UA),
      },
      {
        name: "GetTicket(sharedOrg)",
        call: (headers) =>
          client.getTicket({ lookup: { case: "ticketId", value: t().sharedOrg } }, { headers }),
        expect: row(["ok", "ok", "ok", NF, "ok", NF], [NF, NF, NF, "ok", NF, NF], ["ok", PD], UA),
      },
      {
        name: "GetTicket(privateOrg)",
        call: (headers) =>
          client.getTicket({ lookup: { case: "ticketId", value: t().privateOrg } }, { headers }),
        expect: row(["ok", "ok", "ok", NF, NF, NF], [NF, NF, NF, NF, NF, NF], ["ok", PD], UA),
      },
      {
        name: "GetTicket(primaryOrg)",
        call: (headers) =>
          client.getTicket({ lookup: { case: "ticketId", value: t().primaryOrg } }, { headers }),
        expect: row([NF, NF, "ok", "ok", NF, "ok"], [NF, NF, NF, NF, NF, "ok"], ["ok", PD], UA),
      },
      {
        name: "GetTicket(missing)",
        call: (headers) => client.getTicket({ lookup: { case: "ticketId", value: 999_999 } }, { headers }),
        expect: row([NF, NF, NF, NF, NF, NF], [NF, NF, NF, NF, NF, NF], [NF, PD], UA),
      },
      {
        name: "PostReply(plain)",
        call: (headers) => client.postReply({ ticketId: t().plain, body: "hi" }, { headers }),
        expect: row(["ok", PD, PD, NF, NF, NF], [PD, PD, PD, PD, PD, PD], ["ok", PD], UA),
      },
      {
        name: "PostNote(plain)",
        call: (headers) => client.postNote({ ticketId: t().plain, body: "n" }, { headers }),
        expect: row(["ok", "ok", "ok", NF, NF, NF], [PD, PD, PD, PD, PD, PD], ["ok", PD], UA),
      },
      {
        name: "PostMessage(plain)",
        call: (headers) => client.postMessage({ ticketId: t().plain, body: "m" }, { headers }),
        expect: row([PD, PD, PD, PD, PD, PD], ["ok", "ok", NF, NF, NF, NF], ["ok", PD], UA),
      },
      {
        name: "CreateTicket",
        call: (headers) => client.createTicket({}, { headers }),
        expect: row(["ok", PD, "ok", "ok", "ok", "ok"], ["ok", "ok", "ok", "ok", "ok", "ok"], ["ok", PD], UA),
      },
      {
        name: "RecordSystemLog",
        call: (headers) => client.recordSystemLog({}, { headers }),
        expect: row([PD, PD, PD, PD, PD, PD], [PD, PD, PD, PD, PD, PD], [PD, PD], UA),
      },
    ];
    expect(await runBolaMatrix(world, issuer, cases)).toEqual([]);
  });

  it("lists exactly the tickets a caller may see", async () => {
    const listFor = async (caller: BolaCaller) => {
      const res = await client.listTickets({}, { headers: await bolaHeaders(world, issuer, caller) });
      const ours = new Set(Object.values(world.tickets));
      return res.tickets.map((x) => x.id).filter((id) => ours.has(id));
    };
    expect(await listFor("endUserOwner")).toEqual([world.tickets.plain]);
    expect(await listFor("orgPrimaryContact")).toEqual([world.tickets.primaryOrg]);
    expect(await listFor("agentAssignedOnly")).toEqual([world.tickets.sharedOrg]);
    expect(await listFor("agentTeamMember")).toEqual([world.tickets.primaryOrg]);
    expect((await listFor("apiKeyWithScope")).length).toBe(5);
  });

  it("puts the resolved principal into the handler's context", async () => {
    await client.getTicket(
      { lookup: { case: "ticketId", value: world.tickets.plain } },
      { headers: await bolaHeaders(world, issuer, "agentWithAccess") },
    );
    expect(seen.principal?.actor?.id).toBe(world.staff.withAccess);
    expect(seen.principal?.agent?.departments.map((d) => d.deptId)).toEqual([1]);
    await client.getTicket(
      { lookup: { case: "ticketId", value: world.tickets.plain } },
      { headers: await bolaHeaders(world, issuer, "apiKeyWithScope") },
    );
    expect(seen.principal?.actor?.kind).toBe(PrincipalKind.API_KEY);
    expect(seen.principal?.credentialId).toBe(`apikey:ostmesh:${world.apiKeys.withScope.id}`);
  });

  const codeOf = async (headers: Headers) => {
    try {
      await client.getTicket({ lookup: { case: "ticketId", value: world.tickets.plain } }, { headers });
      return "ok";
    } catch (error) {
      return ConnectError.from(error).code;
    }
  };

  it("answers UNAUTHENTICATED for any credential it cannot accept (never silently anonymous)", async () => {
    const expired = await issuer.sign(world.principal("agentWithAccess"), { ttlSec: -120 });
    const other = await createTestIssuer();
    const foreign = await other.sign(world.principal("agentWithAccess"));
    const cases: [string, Headers][] = [
      ["garbage bearer", new Headers({ authorization: "Bearer not.a.jwt" })],
      ["expired token", new Headers({ authorization: `Bearer ${expired}` })],
      ["token of an unknown issuer key", new Headers({ authorization: `Bearer ${foreign}` })],
      ["basic auth", new Headers({ authorization: "Basic dXNlcjpwYXNz" })],
      ["empty bearer", new Headers({ authorization: "Bearer " })],
      ["unknown ostmesh key", new Headers({ "x-api-key": `osm_aaaaaaaaaaaa_${"A".repeat(43)}` })],
      ["malformed key", new Headers({ "x-api-key": "0123456789ABCDEF0123456789ABCDEF" })],
      [
        "both credentials",
        new Headers({
          authorization: `Bearer ${await issuer.sign(world.principal("agentWithAccess"))}`,
          "x-api-key": world.apiKeys.withScope.secret,
        }),
      ],
    ];
    for (const [name, headers] of cases) expect(`${name}: ${await codeOf(headers)}`).toBe(`${name}: ${UA}`);
    // An ostmesh key also works as a bearer credential.
    expect(await codeOf(new Headers({ authorization: `Bearer ${world.apiKeys.withScope.secret}` }))).toBe(
      "ok",
    );
  });

  it("re-reads agents, users, keys and sessions: deactivation, locking, revocation and logout apply at once", async () => {
    const em = orm.em.fork();
    // An agent deactivated after the token was issued.
    const agentToken = await issuer.sign(world.principal("agentViewOnly"));
    expect(await codeOf(new Headers({ authorization: `Bearer ${agentToken}` }))).toBe("ok");
    await em.execute("UPDATE ost_staff SET isactive = 0 WHERE staff_id = ?", [world.staff.viewOnly]);
    expect(await codeOf(new Headers({ authorization: `Bearer ${agentToken}` }))).toBe(UA);
    // A role change applies to tokens already issued: All Access → View only blocks replies.
    const replyToken = await issuer.sign(world.principal("agentWithAccess"));
    await client.postReply(
      { ticketId: world.tickets.plain },
      { headers: { authorization: `Bearer ${replyToken}` } },
    );
    await em.execute("UPDATE ost_staff SET role_id = 4 WHERE staff_id = ?", [world.staff.withAccess]);
    await expect(
      client.postReply(
        { ticketId: world.tickets.plain },
        { headers: { authorization: `Bearer ${replyToken}` } },
      ),
    ).rejects.toMatchObject({ code: PD });
    await em.execute("UPDATE ost_staff SET role_id = 1 WHERE staff_id = ?", [world.staff.withAccess]);
    // An end user whose client account gets locked.
    const userToken = await issuer.sign(world.principal("endUserOwner"));
    await em.execute("INSERT INTO ost_user_account SET user_id = ?, status = 3, username = ?", [
      world.users.owner,
      `owner${world.users.owner}`,
    ]);
    expect(await codeOf(new Headers({ authorization: `Bearer ${userToken}` }))).toBe(UA);
    await em.execute("UPDATE ost_user_account SET status = 1 WHERE user_id = ?", [world.users.owner]);
    expect(await codeOf(new Headers({ authorization: `Bearer ${userToken}` }))).toBe("ok");
    // A session (refresh-token family) that is live, then logged out, and one that never existed: an end
    // user's, and an agent's (read with the agent in one round trip).
    const sessions = [
      { name: "endUserOwner", kind: "end_user", id: world.users.owner, family: "s", ghost: "g" },
      { name: "agentWithAccess", kind: "agent", id: world.staff.withAccess, family: "a", ghost: "h" },
    ] as const;
    for (const { name, kind, id, family, ghost } of sessions) {
      await em.execute(
        "INSERT INTO ostmesh_refresh_token (token_hash, family_id, principal_kind, principal_id, created_at, expires_at," +
          " family_expires_at) VALUES (?, ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL 1 DAY," +
          " UTC_TIMESTAMP(6) + INTERVAL 1 DAY)",
        [family.repeat(64), family.repeat(32), kind, id],
      );
      const sessionToken = await issuer.sign(world.principal(name), { sessionId: family.repeat(32) });
      expect(await codeOf(new Headers({ authorization: `Bearer ${sessionToken}` }))).toBe("ok");
      await em.execute("UPDATE ostmesh_refresh_token SET revoked_at = UTC_TIMESTAMP(6) WHERE family_id = ?", [
        family.repeat(32),
      ]);
      expect(await codeOf(new Headers({ authorization: `Bearer ${sessionToken}` }))).toBe(UA);
      const unknown = await issuer.sign(world.principal(name), { sessionId: ghost.repeat(32) });
      expect(await codeOf(new Headers({ authorization: `Bearer ${unknown}` }))).toBe(UA);
    }
    // An ostmesh key revoked, then one that expired.
    const keyHeaders = new Headers({ "x-api-key": world.apiKeys.withScope.secret });
    expect(await codeOf(keyHeaders)).toBe("ok");
    await em.execute("UPDATE ostmesh_api_key SET revoked_at = UTC_TIMESTAMP(6) WHERE id = ?", [
      world.apiKeys.withScope.id,
    ]);
    expect(await codeOf(keyHeaders)).toBe(UA);
    await em.execute(
      "UPDATE ostmesh_api_key SET revoked_at = NULL, expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE id = ?",
      [world.apiKeys.withScope.id],
    );
    expect(await codeOf(keyHeaders)).toBe(UA);
    await em.execute("UPDATE ostmesh_api_key SET expires_at = NULL WHERE id = ?", [
      world.apiKeys.withScope.id,
    ]);
    await em.execute("UPDATE ost_staff SET isactive = 1 WHERE staff_id = ?", [world.staff.viewOnly]);
  });

  it("refuses an osTicket key's bound token once the key's row would no longer pass osTicket's check", async () => {
    const em = orm.em.fork();
    const secret = "0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B";
    await em.execute(
      "INSERT INTO ost_api_key SET isactive = 1, ipaddr = '10.1.2.3', apikey = ?, can_create_tickets = 1," +
        " can_exec_cron = 0, notes = 'bound', updated = NOW(), created = NOW()",
      [secret],
    );
    const [key] = await query(em, "SELECT id FROM ost_api_key WHERE apikey = ?", [secret]);
    const principal = osticketKeyPrincipal({
      id: Number(key?.id),
      notes: "bound",
      canCreateTickets: true,
      canExecCron: false,
    });
    const token = await issuer.sign(principal, {
      keyBinding: osticketKeyBinding({ ipaddr: "10.1.2.3", apikey: secret }),
    });
    const create = async () => {
      try {
        await client.createTicket({}, { headers: { authorization: `Bearer ${token}` } });
        return "ok";
      } catch (error) {
        return ConnectError.from(error).code;
      }
    };
    const change = (set: string, params: unknown[] = []) =>
      em.execute(`UPDATE ost_api_key SET ${set} WHERE id = ?`, [...params, key?.id]);
    expect(await create()).toBe("ok");
    // Another address, then back: the token follows the row.
    await change("ipaddr = '10.1.2.4'");
    expect(await create()).toBe(UA);
    await change("ipaddr = '10.1.2.3'");
    expect(await create()).toBe("ok");
    // The secret replaced (even by the same letters in another case: the token names the row as checked).
    await change("apikey = ?", [secret.toLowerCase()]);
    expect(await create()).toBe(UA);
    await change("apikey = ?", [secret]);
    // Deactivated, and no longer allowed to create tickets.
    await change("isactive = 0");
    expect(await create()).toBe(UA);
    await change("isactive = 1, can_create_tickets = 0");
    expect(await create()).toBe(PD);
    await change("can_create_tickets = 1");
    expect(await create()).toBe("ok");
    // Deleted.
    await em.execute("DELETE FROM ost_api_key WHERE id = ?", [key?.id]);
    expect(await create()).toBe(UA);
    // A binding on anything but an API key's token is refused, and the issuer refuses to make one; an ostmesh
    // key's token bound to another key (this osTicket key) is refused too.
    const agent = world.principal("agentWithAccess");
    const binding = osticketKeyBinding({ ipaddr: "10.1.2.3", apikey: secret });
    await expect(issuer.sign(agent, { keyBinding: binding })).rejects.toThrow(/only an API key/);
    const ostmeshKey = world.principal("apiKeyWithScope");
    expect(
      await codeOf(
        new Headers({ authorization: `Bearer ${await issuer.sign(ostmeshKey, { keyBinding: binding })}` }),
      ),
    ).toBe(UA);
  });

  it("refuses an ostmesh key's bound token once the key no longer admits the address it was checked from", async () => {
    const em = orm.em.fork();
    const key = world.apiKeys.withScope;
    const token = await issuer.sign(world.principal("apiKeyWithScope"), {
      keyBinding: ostmeshKeyBinding("10.9.8.7", key.secret),
    });
    const headers = new Headers({ authorization: `Bearer ${token}` });
    const [before] = await query(em, "SELECT allowed_ips FROM ostmesh_api_key WHERE id = ?", [key.id]);
    const allow = (ips: string[]) =>
      em.execute("UPDATE ostmesh_api_key SET allowed_ips = ? WHERE id = ?", [JSON.stringify(ips), key.id]);
    try {
      expect(await codeOf(headers)).toBe("ok");
      await allow(["10.9.8.0/24"]);
      expect(await codeOf(headers)).toBe("ok");
      await allow(["10.9.9.1", "2001:db8::/32"]);
      expect(await codeOf(headers)).toBe(UA);
      await allow(["10.9.8.7"]);
      expect(await codeOf(headers)).toBe("ok");
      // Revoked, then restored.
      await em.execute("UPDATE ostmesh_api_key SET revoked_at = UTC_TIMESTAMP(6) WHERE id = ?", [key.id]);
      expect(await codeOf(headers)).toBe(UA);
      await em.execute("UPDATE ostmesh_api_key SET revoked_at = NULL WHERE id = ?", [key.id]);
      expect(await codeOf(headers)).toBe("ok");
      // Bound to another ostmesh key's hash: refused.
      const other = await issuer.sign(world.principal("apiKeyWithScope"), {
        keyBinding: ostmeshKeyBinding("10.9.8.7", `${key.secret.slice(0, -1)}x`),
      });
      expect(await codeOf(new Headers({ authorization: `Bearer ${other}` }))).toBe(UA);
    } finally {
      await em.execute("UPDATE ostmesh_api_key SET allowed_ips = ? WHERE id = ?", [
        before?.allowed_ips,
        key.id,
      ]);
    }
  });

  it("lets health checks through and denies RPCs that declare no rule", async () => {
    const transport = createRouterTransport(
      (router) => {
        tinyTicketService(q, seen)(router);
        router.service(Health, {
          async check() {
            return { status: HealthCheckResponse_ServingStatus.SERVING };
          },
        });
      },
      {
        router: {
          interceptors: [authInterceptor({ tokens: issuer.verifier, db: q, ruleOf: () => undefined })],
        },
      },
    );
    const health = createClient(Health, transport);
    expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const tickets = createClient(TicketService, transport);
    await expect(tickets.createTicket({})).rejects.toMatchObject({ code: UA });
    await expect(
      tickets.createTicket({}, { headers: await bolaHeaders(world, issuer, "agentWithAccess") }),
    ).rejects.toMatchObject({ code: PD });
  });

  it("refuses API keys where no database is configured", async () => {
    const transport = createRouterTransport(tinyTicketService(q, seen), {
      router: { interceptors: [authInterceptor({ tokens: issuer.verifier })] },
    });
    const tickets = createClient(TicketService, transport);
    await expect(
      tickets.createTicket({}, { headers: { "x-api-key": world.apiKeys.withScope.secret } }),
    ).rejects.toMatchObject({ code: UA });
    // Tokens are still accepted, trusted as issued.
    await tickets.createTicket({}, { headers: await bolaHeaders(world, issuer, "agentWithAccess") });
  });
});
