import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { accessRuleOf, IdentityService, TicketService } from "@ostmesh/proto";
import {
  ApiKeyKind,
  PrincipalKind,
  PrincipalSchema,
} from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { FormAnswerSchema } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import {
  ThreadEntrySchema,
  ThreadEntryType,
  TicketSchema,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { describe, expect, it } from "vitest";
import { checkAccessRule, isRolePermission } from "./access.ts";
import {
  checkIpEntry,
  generateOstmeshKey,
  hashApiKey,
  ipAllowed,
  isOstmeshKey,
  ostmeshKeyPrefix,
} from "./api-keys.ts";
import { ANONYMOUS, subjectOf } from "./principal.ts";
import { permissionKeys } from "./sql.ts";
import { redactThreadForEndUser, redactTicketForEndUser } from "./tickets.ts";

const rule = (service: typeof TicketService | typeof IdentityService, method: string) => {
  const m = service.methods.find((x) => x.name === method);
  if (!m) throw new Error(method);
  return accessRuleOf(m);
};

const agent = (o: { admin?: boolean; perms?: string[]; deptPerms?: string[] } = {}) =>
  create(PrincipalSchema, {
    actor: { kind: PrincipalKind.AGENT, id: 5 },
    agent: {
      isAdmin: o.admin ?? false,
      primaryDeptId: 1,
      roleId: 1,
      departments: [{ deptId: 1, roleId: 1, permissions: o.deptPerms ?? [] }],
      permissions: o.perms ?? [],
    },
  });
const key = (scopes: string[]) =>
  create(PrincipalSchema, {
    actor: { kind: PrincipalKind.API_KEY, id: 2, apiKeyKind: ApiKeyKind.OSTMESH },
    scopes,
  });
const service = (scopes: string[]) =>
  create(PrincipalSchema, { actor: { kind: PrincipalKind.SERVICE, username: "gateway" }, scopes });
const endUser = create(PrincipalSchema, { actor: { kind: PrincipalKind.END_USER, id: 9 } });

const outcome = (d: ReturnType<typeof checkAccessRule>) => (d.allowed ? "ok" : Code[d.code]);

describe("per-RPC access rules from the contract", () => {
  it("checks kinds, scopes, admin and agent-level permissions before the handler", () => {
    const createApiKey = rule(IdentityService, "CreateApiKey");
    expect(outcome(checkAccessRule(createApiKey, agent({ admin: true })))).toBe("ok");
    expect(outcome(checkAccessRule(createApiKey, agent()))).toBe("PermissionDenied");
    expect(outcome(checkAccessRule(createApiKey, key(["apikeys:manage"])))).toBe("ok");
    expect(outcome(checkAccessRule(createApiKey, key(["users:read"])))).toBe("PermissionDenied");
    expect(outcome(checkAccessRule(createApiKey, endUser))).toBe("PermissionDenied");
    expect(outcome(checkAccessRule(createApiKey, ANONYMOUS))).toBe("Unauthenticated");

    const createUser = rule(IdentityService, "CreateUser");
    expect(outcome(checkAccessRule(createUser, agent({ perms: ["user.create"] })))).toBe("ok");
    // Administrators hold only the agent-level permissions osTicket stored for them.
    expect(outcome(checkAccessRule(createUser, agent({ admin: true })))).toBe("PermissionDenied");

    const checkKey = rule(IdentityService, "CheckApiKey");
    expect(outcome(checkAccessRule(checkKey, service(["auth:check"])))).toBe("ok");
    expect(outcome(checkAccessRule(checkKey, service([])))).toBe("PermissionDenied");
    expect(outcome(checkAccessRule(checkKey, key(["auth:check"])))).toBe("PermissionDenied");
  });

  it("defers department-scoped role permissions to the handler, but checks them across departments otherwise", () => {
    // PostReply: agent_department_check, so the role in the ticket's department decides later.
    expect(outcome(checkAccessRule(rule(TicketService, "PostReply"), agent()))).toBe("ok");
    // CreateTicket: ticket.create in any department's role.
    const createTicket = rule(TicketService, "CreateTicket");
    expect(outcome(checkAccessRule(createTicket, agent({ deptPerms: ["ticket.create"] })))).toBe("ok");
    expect(outcome(checkAccessRule(createTicket, agent()))).toBe("PermissionDenied");
    expect(outcome(checkAccessRule(createTicket, endUser))).toBe("ok");
    expect(isRolePermission("ticket.reply")).toBe(true);
    expect(isRolePermission("thread.edit")).toBe(true);
    expect(isRolePermission("user.create")).toBe(false);
  });

  it("denies RPCs without a rule and principals without a kind", () => {
    expect(outcome(checkAccessRule(undefined, agent({ admin: true })))).toBe("PermissionDenied");
    expect(outcome(checkAccessRule(undefined, ANONYMOUS))).toBe("Unauthenticated");
    expect(outcome(checkAccessRule(rule(TicketService, "GetTicket"), create(PrincipalSchema, {})))).toBe(
      "Unauthenticated",
    );
    const noAuthority = create(PrincipalSchema, { actor: { kind: PrincipalKind.AGENT, id: 1 } });
    expect(outcome(checkAccessRule(rule(TicketService, "GetTicket"), noAuthority))).toBe("PermissionDenied");
  });

  it("names principals stably", () => {
    expect(subjectOf(agent())).toBe("agent:5");
    expect(subjectOf(endUser)).toBe("user:9");
    expect(subjectOf(key([]))).toBe("apikey:ostmesh:2");
    expect(subjectOf(service([]))).toBe("service:gateway");
    expect(subjectOf(ANONYMOUS)).toBe("anonymous");
  });
});

describe("API key helpers", () => {
  it("generates keys with a public prefix and stores only their SHA-256", () => {
    const k = generateOstmeshKey();
    expect(k.secret).toMatch(/^osm_[a-z2-7]{12}_[A-Za-z0-9_-]{43}$/);
    expect(isOstmeshKey(k.secret)).toBe(true);
    expect(ostmeshKeyPrefix(k.secret)).toBe(k.prefix);
    expect(k.prefix).toHaveLength(16);
    expect(k.hash).toBe(hashApiKey(k.secret));
    expect(k.hash).not.toContain(k.secret.slice(17));
    expect(isOstmeshKey("0123456789ABCDEF0123456789ABCDEF")).toBe(false);
    expect(ostmeshKeyPrefix("osm_short")).toBeUndefined();
  });

  it("matches client IPs against addresses and CIDR ranges (IPv4, IPv6, mapped IPv4)", () => {
    expect(ipAllowed([], undefined)).toBe(true);
    expect(ipAllowed(["10.0.0.0/8"], "10.1.2.3")).toBe(true);
    expect(ipAllowed(["10.0.0.0/8"], "11.1.2.3")).toBe(false);
    expect(ipAllowed(["192.168.1.5"], "::ffff:192.168.1.5")).toBe(true);
    expect(ipAllowed(["2001:db8::/32"], "2001:db8::1")).toBe(true);
    expect(ipAllowed(["2001:db8::/32"], "2001:db9::1")).toBe(false);
    expect(ipAllowed(["10.0.0.0/8"], undefined)).toBe(false);
    expect(ipAllowed(["10.0.0.0/8"], "not-an-ip")).toBe(false);
    expect(checkIpEntry("10.0.0.0/8")).toBeUndefined();
    expect(checkIpEntry("10.0.0.0/33")).toMatch(/prefix/);
    expect(checkIpEntry("example.com")).toMatch(/not an IP/);
  });

  it("reads osTicket permission JSON", () => {
    expect(permissionKeys('{"ticket.reply":1,"ticket.close":0,"user.create":1}')).toEqual([
      "ticket.reply",
      "user.create",
    ]);
    expect(permissionKeys(null)).toEqual([]);
    expect(permissionKeys("not json")).toEqual([]);
  });
});

describe("end-user redaction", () => {
  it("removes agent-only ticket fields and answers of fields clients may not view", () => {
    const ticket = create(TicketSchema, {
      id: 1,
      subject: "Printer",
      ipAddress: "10.0.0.1",
      sourceExtra: "mailbox",
      isOverdue: true,
      emailId: 3,
      assigneeStaff: { id: 1, name: "Admin User" },
      assigneeTeam: { id: 1, name: "Level I" },
      sla: { id: 1, name: "Default SLA" },
      priority: { id: 2, name: "Normal" },
      answers: [
        create(FormAnswerSchema, { fieldId: 20, name: "subject", value: "Printer" }),
        create(FormAnswerSchema, { fieldId: 99, name: "internal_code", value: "X-1" }),
      ],
    });
    redactTicketForEndUser(ticket, { fieldIds: new Set([20]), fieldNames: new Set(["subject"]) });
    expect(ticket.ipAddress).toBe("");
    expect(ticket.sourceExtra).toBe("");
    expect(ticket.isOverdue).toBe(false);
    expect(ticket.emailId).toBe(0);
    expect(ticket.assigneeStaff).toBeUndefined();
    expect(ticket.assigneeTeam).toBeUndefined();
    expect(ticket.sla).toBeUndefined();
    expect(ticket.priority).toBeUndefined();
    expect(ticket.answers.map((a) => a.name)).toEqual(["subject"]);
    expect(ticket.subject).toBe("Printer");
  });

  it("drops internal notes and hidden entries and clears IP addresses and editors", () => {
    const entries = [
      create(ThreadEntrySchema, { id: 1, type: ThreadEntryType.MESSAGE, ipAddress: "1.2.3.4" }),
      create(ThreadEntrySchema, {
        id: 2,
        type: ThreadEntryType.RESPONSE,
        editor: { kind: PrincipalKind.AGENT, id: 1 },
      }),
      create(ThreadEntrySchema, { id: 3, type: ThreadEntryType.NOTE }),
      create(ThreadEntrySchema, { id: 4, type: ThreadEntryType.RESPONSE, flags: 0x4 }),
    ];
    const visible = redactThreadForEndUser(entries);
    expect(visible.map((e) => e.id)).toEqual([1, 2]);
    expect(visible[0]?.ipAddress).toBe("");
    expect(visible[1]?.editor).toBeUndefined();
  });
});
