import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { execute } from "@ostmesh/db";
import { hashApiKey } from "@ostmesh/kit/auth/index.ts";
import { ApiKeyKind, PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import {
  ApiKeyCheckOutcome,
  ApiKeyPurpose,
} from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IdentityHarness, identityHarness } from "./testing.ts";

async function codeOf(work: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await work;
    return "ok";
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

const OSTICKET_KEY = "9A3C5E7F11D24B6A8C0E2F4A6B8D0C1E";

describe("identity: API keys", () => {
  let h: IdentityHarness;
  let admin: Headers;
  let gateway: Headers;
  let osticketKeyId: number;
  const exec = (sql: string, params: unknown[] = []) => execute(h.orm.em.fork(), sql, params);

  beforeAll(async () => {
    h = await identityHarness("idkeys");
    admin = await h.adminHeaders();
    gateway = await h.gatewayHeaders();
    ({ insertId: osticketKeyId } = await exec(
      "INSERT INTO ost_api_key SET isactive = 1, ipaddr = '10.0.0.7', apikey = ?, can_create_tickets = 1, can_exec_cron = 0," +
        " notes = 'Mail gateway', updated = NOW(), created = NOW()",
      [OSTICKET_KEY],
    ));
  });
  afterAll(async () => {
    await h?.close();
  });

  const check = (apiKey: string, clientIp: string, purpose: ApiKeyPurpose) =>
    h.client.checkApiKey({ apiKey, clientIp, purpose }, { headers: gateway });

  describe("osTicket keys on the legacy routes (FACTS §4.2)", () => {
    it("accepts the key case-insensitively from its exact IP and returns a token for the API-key principal", async () => {
      const res = await check(OSTICKET_KEY.toLowerCase(), "10.0.0.7", ApiKeyPurpose.CREATE_TICKETS);
      expect(res.outcome).toBe(ApiKeyCheckOutcome.OK);
      expect(res.message).toBe("");
      expect(res.apiKey).toMatchObject({
        id: osticketKeyId,
        kind: ApiKeyKind.OSTICKET,
        keyPrefix: "9A3C5E7F",
        active: true,
      });
      expect(res.apiKey?.allowedIps).toEqual(["10.0.0.7"]);
      expect(res.principal?.actor).toMatchObject({
        kind: PrincipalKind.API_KEY,
        id: osticketKeyId,
        apiKeyKind: ApiKeyKind.OSTICKET,
      });
      expect(res.principal?.scopes).toEqual(["tickets:create"]);
      const who = await h.client.whoAmI(
        {},
        { headers: { authorization: `Bearer ${res.tokens?.accessToken}` } },
      );
      expect(who.principal?.scopes).toEqual(["tickets:create"]);
      // The token is bound to the row as checked: its ipaddr and the hash of its apikey (never the key).
      expect(res.bound).toBe(true);
      const token = res.tokens?.accessToken ?? "";
      const payload = decodeJwt(token);
      expect(payload.okb).toEqual({ ip: "10.0.0.7", key: hashApiKey(OSTICKET_KEY) });
      expect(token).not.toContain(OSTICKET_KEY);
      expect(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()).not.toMatch(/9A3C5E7F/i);
      // The same key from the same address gets the same token again.
      const again = await check(OSTICKET_KEY, "10.0.0.7", ApiKeyPurpose.CREATE_TICKETS);
      expect(again.tokens?.accessToken).toBe(token);
    });

    it("answers osTicket's three 401 texts in osTicket's order", async () => {
      const wrongIp = await check(OSTICKET_KEY, "10.0.0.8", ApiKeyPurpose.CREATE_TICKETS);
      expect([wrongIp.outcome, wrongIp.message, wrongIp.apiKey]).toEqual([
        ApiKeyCheckOutcome.INVALID,
        "Valid API key required",
        undefined,
      ]);
      const unknown = await check("0000", "10.0.0.7", ApiKeyPurpose.CREATE_TICKETS);
      expect(unknown.message).toBe("Valid API key required");
      const missing = await check("", "10.0.0.7", ApiKeyPurpose.CREATE_TICKETS);
      expect(missing.outcome).toBe(ApiKeyCheckOutcome.INVALID);
      // No CIDR and no wildcard: the ipaddr column is compared exactly.
      expect((await check(OSTICKET_KEY, "10.0.0.70", ApiKeyPurpose.CREATE_TICKETS)).outcome).toBe(
        ApiKeyCheckOutcome.INVALID,
      );
      const cron = await check(OSTICKET_KEY, "10.0.0.7", ApiKeyPurpose.EXEC_CRON);
      expect([cron.outcome, cron.message]).toEqual([
        ApiKeyCheckOutcome.NOT_AUTHORIZED,
        "API key not authorized",
      ]);
      expect(cron.principal).toBeUndefined();
      expect(cron.tokens).toBeUndefined();
      // An admin's change in osTicket's panel applies to the very next request.
      await exec("UPDATE ost_api_key SET isactive = 0 WHERE id = ?", [osticketKeyId]);
      const inactive = await check(OSTICKET_KEY, "10.0.0.7", ApiKeyPurpose.CREATE_TICKETS);
      expect([inactive.outcome, inactive.message]).toEqual([
        ApiKeyCheckOutcome.INACTIVE,
        "API key not found/active or source IP not authorized",
      ]);
      await exec("UPDATE ost_api_key SET isactive = 1, can_exec_cron = 1 WHERE id = ?", [osticketKeyId]);
      expect((await check(OSTICKET_KEY, "10.0.0.7", ApiKeyPurpose.EXEC_CRON)).outcome).toBe(
        ApiKeyCheckOutcome.OK,
      );
    });

    it("does not let osTicket keys act as scoped keys, and needs a purpose", async () => {
      expect((await check(OSTICKET_KEY, "10.0.0.7", ApiKeyPurpose.SCOPED)).outcome).toBe(
        ApiKeyCheckOutcome.INVALID,
      );
      expect(await codeOf(check(OSTICKET_KEY, "10.0.0.7", ApiKeyPurpose.UNSPECIFIED))).toBe(
        Code.InvalidArgument,
      );
    });

    it("is for services holding auth:check only", async () => {
      expect(
        await codeOf(
          h.client.checkApiKey(
            { apiKey: OSTICKET_KEY, clientIp: "10.0.0.7", purpose: 1 },
            { headers: admin },
          ),
        ),
      ).toBe(Code.PermissionDenied);
      expect(
        await codeOf(h.client.checkApiKey({ apiKey: OSTICKET_KEY, clientIp: "10.0.0.7", purpose: 1 })),
      ).toBe(Code.Unauthenticated);
    });
  });

  describe("ostmesh keys", () => {
    let secret: string;
    let keyId: number;

    it("creates a key whose secret is shown once and stored only as a hash", async () => {
      const res = await h.client.createApiKey(
        { description: "CI bot", scopes: ["tickets:read", "tickets:create"], allowedIps: ["192.0.2.0/24"] },
        { headers: admin },
      );
      secret = res.secret;
      keyId = res.apiKey?.id ?? 0;
      expect(secret).toMatch(/^osm_[a-z2-7]{12}_/);
      expect(res.apiKey).toMatchObject({
        kind: ApiKeyKind.OSTMESH,
        keyPrefix: secret.slice(0, 16),
        scopes: ["tickets:read", "tickets:create"],
        allowedIps: ["192.0.2.0/24"],
        description: "CI bot",
        active: true,
      });
      const [row] = await h.q("SELECT * FROM ostmesh_api_key WHERE id = ?", [keyId]);
      expect(JSON.stringify(row)).not.toContain(secret.slice(17));
      expect(row?.created_by).toBe("agent:1");
    });

    it("checks IP ranges, scopes, revocation and expiry", async () => {
      const ok = await check(secret, "192.0.2.55", ApiKeyPurpose.CREATE_TICKETS);
      expect(ok.outcome).toBe(ApiKeyCheckOutcome.OK);
      expect(ok.principal?.scopes).toEqual(["tickets:read", "tickets:create"]);
      const [used] = await h.q("SELECT last_used_at IS NOT NULL AS used FROM ostmesh_api_key WHERE id = ?", [
        keyId,
      ]);
      expect(Number(used?.used)).toBe(1);
      expect((await check(secret, "198.51.100.1", ApiKeyPurpose.CREATE_TICKETS)).outcome).toBe(
        ApiKeyCheckOutcome.INVALID,
      );
      expect((await check(secret, "192.0.2.55", ApiKeyPurpose.EXEC_CRON)).outcome).toBe(
        ApiKeyCheckOutcome.NOT_AUTHORIZED,
      );
      const scoped = await check(secret, "192.0.2.55", ApiKeyPurpose.SCOPED);
      expect(scoped.outcome).toBe(ApiKeyCheckOutcome.OK);
      // Its token is bound to the address it was checked from and the key's hash (never the key), and
      // is accepted while the key admits that address.
      expect(scoped.bound).toBe(true);
      const token = scoped.tokens?.accessToken ?? "";
      expect(decodeJwt(token).okb).toEqual({ ip: "192.0.2.55", key: hashApiKey(secret) });
      expect(token).not.toContain(secret);
      const who = await h.client.whoAmI({}, { headers: { authorization: `Bearer ${token}` } });
      expect(who.principal?.actor?.apiKeyKind).toBe(ApiKeyKind.OSTMESH);
      const tampered = `${secret.slice(0, -1)}${secret.endsWith("A") ? "B" : "A"}`;
      expect((await check(tampered, "192.0.2.55", ApiKeyPurpose.SCOPED)).outcome).toBe(
        ApiKeyCheckOutcome.INVALID,
      );
      await exec(
        "UPDATE ostmesh_api_key SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE id = ?",
        [keyId],
      );
      expect((await check(secret, "192.0.2.55", ApiKeyPurpose.SCOPED)).outcome).toBe(
        ApiKeyCheckOutcome.INACTIVE,
      );
      await exec("UPDATE ostmesh_api_key SET expires_at = NULL WHERE id = ?", [keyId]);
    });

    it("validates new keys", async () => {
      const create = (o: Record<string, unknown>) =>
        codeOf(
          h.client.createApiKey({ description: "x", scopes: ["tickets:read"], ...o }, { headers: admin }),
        );
      expect(await create({ scopes: [] })).toBe(Code.InvalidArgument);
      expect(await create({ scopes: ["tickets:everything"] })).toBe(Code.InvalidArgument);
      expect(await create({ allowedIps: ["10.0.0.0/40"] })).toBe(Code.InvalidArgument);
      expect(await create({ allowedIps: ["intranet"] })).toBe(Code.InvalidArgument);
      expect(await create({ expiresAt: timestampFromMs(Date.now() - 1000) })).toBe(Code.InvalidArgument);
      expect(await create({ description: "d".repeat(256) })).toBe(Code.InvalidArgument);
      const future = await h.client.createApiKey(
        {
          description: "expiring",
          scopes: ["users:read"],
          expiresAt: timestampFromMs(Date.now() + 3_600_000),
        },
        { headers: admin },
      );
      expect(Number(future.apiKey?.expiresAt?.seconds)).toBeGreaterThan(Date.now() / 1000);
    });

    it("lets only administrators, and keys holding apikeys:manage, manage keys — never beyond their own scopes", async () => {
      const manager = await h.client.createApiKey(
        { description: "manager", scopes: ["apikeys:manage", "users:read"] },
        { headers: admin },
      );
      const asManager = new Headers({ "x-api-key": manager.secret });
      const child = await h.client.createApiKey(
        { description: "child", scopes: ["users:read"] },
        { headers: asManager },
      );
      expect(child.apiKey?.scopes).toEqual(["users:read"]);
      expect(
        await codeOf(
          h.client.createApiKey(
            { description: "escalate", scopes: ["tickets:write"] },
            { headers: asManager },
          ),
        ),
      ).toBe(Code.PermissionDenied);
      const reader = new Headers({ "x-api-key": child.secret });
      expect(await codeOf(h.client.listApiKeys({}, { headers: reader }))).toBe(Code.PermissionDenied);
      await h.client.login({ kind: PrincipalKind.AGENT, username: "ostadmin", password: "Adm1nPass!" });
      await exec("UPDATE ost_staff SET isadmin = 0 WHERE staff_id = 1");
      try {
        // The interceptor re-reads the agent: the admin flag removed in osTicket applies at once.
        expect(await codeOf(h.client.listApiKeys({}, { headers: admin }))).toBe(Code.PermissionDenied);
      } finally {
        await exec("UPDATE ost_staff SET isadmin = 1 WHERE staff_id = 1");
      }
    });

    it("lists both kinds newest first with paging, and hides inactive keys unless asked", async () => {
      const all = await h.client.listApiKeys({ includeInactive: true }, { headers: admin });
      const kinds = new Set(all.apiKeys.map((k) => k.kind));
      expect(kinds).toEqual(new Set([ApiKeyKind.OSTICKET, ApiKeyKind.OSTMESH]));
      const times = all.apiKeys.map((k) => Number(k.createdAt?.seconds ?? 0));
      expect(times).toEqual([...times].sort((a, b) => b - a));
      const collected: number[] = [];
      let pageToken = "";
      do {
        const page = await h.client.listApiKeys(
          { includeInactive: true, pageSize: 2, pageToken },
          { headers: admin },
        );
        collected.push(...page.apiKeys.map((k) => k.kind * 100000 + k.id));
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(collected).toEqual(all.apiKeys.map((k) => k.kind * 100000 + k.id));
      const onlyOsticket = await h.client.listApiKeys({ kind: ApiKeyKind.OSTICKET }, { headers: admin });
      expect(onlyOsticket.apiKeys.map((k) => k.id)).toEqual([osticketKeyId]);
      expect(JSON.stringify(onlyOsticket.apiKeys.map((k) => k.keyPrefix))).not.toContain(OSTICKET_KEY);
      expect(
        await codeOf(
          h.client.listApiKeys(
            {
              pageSize: 2,
              pageToken: (await h.client.listApiKeys({ pageSize: 1 }, { headers: admin })).nextPageToken,
              kind: ApiKeyKind.OSTMESH,
            },
            { headers: admin },
          ),
        ),
      ).toBe(Code.InvalidArgument);
    });

    it("revokes ostmesh keys (idempotently); the key stops working at once", async () => {
      // A key limited to IP ranges is refused where no client IP is known (services behind the gateway);
      // the gateway exchanges it through CheckApiKey, which gets the IP.
      expect(await codeOf(h.client.whoAmI({}, { headers: { "x-api-key": secret } }))).toBe(
        Code.Unauthenticated,
      );
      const open = await h.client.createApiKey(
        { description: "anywhere", scopes: ["users:read"] },
        { headers: admin },
      );
      const headers = new Headers({ "x-api-key": open.secret });
      expect(await codeOf(h.client.whoAmI({}, { headers }))).toBe("ok");
      await h.client.revokeApiKey({ id: open.apiKey?.id ?? 0 }, { headers: admin });
      expect(await codeOf(h.client.whoAmI({}, { headers }))).toBe(Code.Unauthenticated);
      const revoked = await h.client.revokeApiKey({ id: keyId }, { headers: admin });
      expect(revoked.apiKey?.active).toBe(false);
      expect(revoked.apiKey?.revokedAt).toBeDefined();
      const again = await h.client.revokeApiKey({ id: keyId }, { headers: admin });
      expect(again.apiKey?.revokedAt).toEqual(revoked.apiKey?.revokedAt);
      expect((await check(secret, "192.0.2.55", ApiKeyPurpose.SCOPED)).outcome).toBe(
        ApiKeyCheckOutcome.INACTIVE,
      );
      const active = await h.client.listApiKeys({ kind: ApiKeyKind.OSTMESH }, { headers: admin });
      expect(active.apiKeys.map((k) => k.id)).not.toContain(keyId);
      expect(await codeOf(h.client.revokeApiKey({ id: 999999 }, { headers: admin }))).toBe(Code.NotFound);
      expect(await codeOf(h.client.revokeApiKey({ id: 0 }, { headers: admin }))).toBe(Code.InvalidArgument);
    });

    it("returns the same key and secret for a retried create", async () => {
      const a = await h.client.createApiKey(
        { idempotencyKey: "ck-1", description: "retry", scopes: ["users:read"] },
        { headers: admin },
      );
      const b = await h.client.createApiKey(
        { idempotencyKey: "ck-1", description: "retry", scopes: ["users:read"] },
        { headers: admin },
      );
      expect(b.secret).toBe(a.secret);
      expect(b.apiKey?.id).toBe(a.apiKey?.id);
      const stored = await h.q("SELECT response FROM ostmesh_idempotency WHERE idem_key = 'ck-1'");
      expect(Buffer.from(stored[0]?.response as Uint8Array).toString("utf8")).not.toContain(a.secret);
    });
  });
});
