import { createHash } from "node:crypto";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { execute } from "@ostmesh/db";
import { IdentityService } from "@ostmesh/proto";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SigningKeys } from "./keys.ts";
import { BAD_CREDENTIALS } from "./login.ts";
import { hashPassword } from "./passwords.ts";
import { ADMIN, type IdentityHarness, identityHarness } from "./testing.ts";

const AGENT = PrincipalKind.AGENT;
const END_USER = PrincipalKind.END_USER;

async function codeOf(work: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await work;
    return "ok";
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

describe("identity: logins, tokens and sessions", () => {
  let h: IdentityHarness;
  let agentId: number;
  let userId: number;

  const exec = (sql: string, params: unknown[] = []) => execute(h.orm.em.fork(), sql, params);

  beforeAll(async () => {
    h = await identityHarness("idauth");
    ({ insertId: agentId } = await exec(
      "INSERT INTO ost_staff SET dept_id = 1, role_id = 1, username = 'carol', firstname = 'Carol', lastname = 'Agent'," +
        " email = 'carol@example.org', passwd = ?, signature = '', isactive = 1, created = NOW(), updated = NOW()",
      [await hashPassword("Carol-Pass-1")],
    ));
    const { insertId: emailId } = await exec(
      "INSERT INTO ost_user_email SET user_id = 0, address = 'Dana@Example.net'",
    );
    ({ insertId: userId } = await exec(
      "INSERT INTO ost_user SET org_id = 0, default_email_id = ?, name = 'Dana User', created = NOW(), updated = NOW()",
      [emailId],
    ));
    await exec("UPDATE ost_user_email SET user_id = ? WHERE id = ?", [userId, emailId]);
    // A client account with a phpass portable hash of "test12345" (openwall's published vector), confirmed.
    await exec(
      "INSERT INTO ost_user_account SET user_id = ?, status = 1, username = 'dana', passwd = '$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0'",
      [userId],
    );
  });
  afterAll(async () => {
    await h?.close();
  });

  it("fails closed when a process serves it without the auth interceptor", async () => {
    const bare = createClient(
      IdentityService,
      createRouterTransport((router) => router.service(IdentityService, h.identity.service)),
    );
    expect(await codeOf(bare.getJwks({}))).toBe(Code.Internal);
    expect(await codeOf(bare.login({ kind: AGENT, ...ADMIN }))).toBe(Code.Internal);
  });

  describe("Login", () => {
    it("logs the fresh install's admin in with osTicket's own hash, by username and by e-mail", async () => {
      const before = await h.q("SELECT lastlogin FROM ost_staff WHERE staff_id = 1");
      const res = await h.client.login({ kind: AGENT, ...ADMIN });
      expect(res.principal?.actor?.username).toBe("ostadmin");
      expect(res.principal?.agent?.isAdmin).toBe(true);
      expect(res.principal?.agent?.departments.map((d) => d.deptId)).toEqual([1, 2, 3]);
      expect(res.tokens?.tokenType).toBe("Bearer");
      expect(res.tokens?.refreshToken).toMatch(/^osr_/);
      const after = await h.q(
        "SELECT lastlogin, lastlogin > NOW() - INTERVAL 1 MINUTE AS recent FROM ost_staff WHERE staff_id = 1",
      );
      expect(before[0]?.lastlogin).toBeNull();
      expect(Number(after[0]?.recent)).toBe(1);
      const byEmail = await h.client.login({
        kind: AGENT,
        username: "ADMIN@example.org",
        password: ADMIN.password,
      });
      expect(byEmail.principal?.actor?.id).toBe(1);
    });

    it("answers one generic UNAUTHENTICATED for a wrong password and for an unknown name", async () => {
      const wrong = await h.client
        .login({ kind: AGENT, username: "ostadmin", password: "nope" })
        .catch((e: unknown) => ConnectError.from(e));
      const unknown = await h.client
        .login({ kind: AGENT, username: "nobody", password: "nope" })
        .catch((e: unknown) => ConnectError.from(e));
      expect(wrong).toBeInstanceOf(ConnectError);
      expect(unknown).toBeInstanceOf(ConnectError);
      if (!(wrong instanceof ConnectError) || !(unknown instanceof ConnectError)) return;
      expect(wrong.code).toBe(Code.Unauthenticated);
      expect(unknown.code).toBe(Code.Unauthenticated);
      expect(wrong.rawMessage).toBe(BAD_CREDENTIALS);
      expect(unknown.rawMessage).toBe(BAD_CREDENTIALS);
      await h.client.login({ kind: AGENT, ...ADMIN }); // clears the admin's failure count
    });

    it("validates the request", async () => {
      expect(await codeOf(h.client.login({ kind: PrincipalKind.API_KEY, ...ADMIN }))).toBe(
        Code.InvalidArgument,
      );
      expect(await codeOf(h.client.login({ kind: AGENT, username: "ostadmin", password: "" }))).toBe(
        Code.InvalidArgument,
      );
      expect(await codeOf(h.client.login({ kind: AGENT, username: " ", password: "x" }))).toBe(
        Code.InvalidArgument,
      );
    });

    it("locks a name out after staff_max_logins failures for staff_login_timeout minutes, right password or not", async () => {
      for (let i = 1; i <= 4; i++) {
        expect(await codeOf(h.client.login({ kind: AGENT, username: "carol", password: `bad${i}` }))).toBe(
          Code.Unauthenticated,
        );
      }
      // The failure beyond staff_max_logins (4) locks, as osTicket's strike counter does.
      const locking = await h.client
        .login({ kind: AGENT, username: "carol", password: "bad5" })
        .catch((e: unknown) => ConnectError.from(e));
      expect(locking).toMatchObject({ code: Code.ResourceExhausted });
      expect(String(locking)).toMatch(/try again in 2 minutes/);
      expect(await codeOf(h.client.login({ kind: AGENT, username: "carol", password: "Carol-Pass-1" }))).toBe(
        Code.ResourceExhausted,
      );
      expect(await codeOf(h.client.login({ kind: AGENT, username: "CAROL", password: "Carol-Pass-1" }))).toBe(
        Code.ResourceExhausted,
      );
      // Once the timeout has passed, the right password works and the counter is cleared.
      await exec(
        "UPDATE ostmesh_login_failure SET locked_until = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE login = 'carol'",
      );
      expect(await codeOf(h.client.login({ kind: AGENT, username: "carol", password: "Carol-Pass-1" }))).toBe(
        "ok",
      );
      expect(await h.q("SELECT * FROM ostmesh_login_failure WHERE login = 'carol'")).toEqual([]);
    });

    it("reads the lockout settings from ost_config (client_max_logins)", async () => {
      await exec(
        "UPDATE ost_config SET value = '2' WHERE namespace = 'core' AND `key` = 'client_max_logins'",
      );
      try {
        for (let i = 1; i <= 2; i++)
          expect(await codeOf(h.client.login({ kind: END_USER, username: "dana", password: "bad" }))).toBe(
            Code.Unauthenticated,
          );
        expect(await codeOf(h.client.login({ kind: END_USER, username: "dana", password: "bad" }))).toBe(
          Code.ResourceExhausted,
        );
      } finally {
        await exec(
          "UPDATE ost_config SET value = '4' WHERE namespace = 'core' AND `key` = 'client_max_logins'",
        );
        await exec("DELETE FROM ostmesh_login_failure WHERE login = 'dana'");
      }
    });

    it("refuses a disabled agent with the right password (PERMISSION_DENIED), a wrong password stays generic", async () => {
      await exec("UPDATE ost_staff SET isactive = 0 WHERE staff_id = ?", [agentId]);
      try {
        expect(
          await codeOf(h.client.login({ kind: AGENT, username: "carol", password: "Carol-Pass-1" })),
        ).toBe(Code.PermissionDenied);
        expect(await codeOf(h.client.login({ kind: AGENT, username: "carol", password: "wrong" }))).toBe(
          Code.Unauthenticated,
        );
      } finally {
        await exec("UPDATE ost_staff SET isactive = 1 WHERE staff_id = ?", [agentId]);
        await exec("DELETE FROM ostmesh_login_failure WHERE login = 'carol'");
      }
    });

    it("accepts a legacy MD5 agent password once and replaces it with bcrypt", async () => {
      const md5 = createHash("md5").update("Legacy-Pass").digest("hex");
      await exec("UPDATE ost_staff SET passwd = ? WHERE staff_id = ?", [md5, agentId]);
      expect(await codeOf(h.client.login({ kind: AGENT, username: "carol", password: "Legacy-Pass" }))).toBe(
        "ok",
      );
      const [row] = await h.q("SELECT passwd FROM ost_staff WHERE staff_id = ?", [agentId]);
      expect(String(row?.passwd)).toMatch(/^\$2y\$10\$/);
      expect(await codeOf(h.client.login({ kind: AGENT, username: "carol", password: "Legacy-Pass" }))).toBe(
        "ok",
      );
      await exec("UPDATE ost_staff SET passwd = ? WHERE staff_id = ?", [
        await hashPassword("Carol-Pass-1"),
        agentId,
      ]);
    });

    it("logs end users in by account username or any of their addresses (phpass hash)", async () => {
      const byName = await h.client.login({ kind: END_USER, username: "dana", password: "test12345" });
      expect(byName.principal?.actor).toMatchObject({ kind: END_USER, id: userId, displayName: "Dana User" });
      expect(byName.principal?.email).toBe("Dana@Example.net");
      const byEmail = await h.client.login({
        kind: END_USER,
        username: "dana@example.NET",
        password: "test12345",
      });
      expect(byEmail.principal?.actor?.id).toBe(userId);
      // An agent cannot log in on the client side, nor a client on the agent side.
      expect(await codeOf(h.client.login({ kind: END_USER, ...ADMIN }))).toBe(Code.Unauthenticated);
      expect(await codeOf(h.client.login({ kind: AGENT, username: "dana", password: "test12345" }))).toBe(
        Code.Unauthenticated,
      );
    });

    it("refuses locked (PERMISSION_DENIED) and unconfirmed (FAILED_PRECONDITION) client accounts", async () => {
      await exec("UPDATE ost_user_account SET status = 3 WHERE user_id = ?", [userId]);
      expect(await codeOf(h.client.login({ kind: END_USER, username: "dana", password: "test12345" }))).toBe(
        Code.PermissionDenied,
      );
      await exec("UPDATE ost_user_account SET status = 0 WHERE user_id = ?", [userId]);
      expect(await codeOf(h.client.login({ kind: END_USER, username: "dana", password: "test12345" }))).toBe(
        Code.FailedPrecondition,
      );
      await exec("UPDATE ost_user_account SET status = 1 WHERE user_id = ?", [userId]);
    });

    it("replays a login retried with the same idempotency key instead of opening a second session", async () => {
      const first = await h.client.login({ kind: AGENT, ...ADMIN, idempotencyKey: "login-retry-1" });
      const again = await h.client.login({ kind: AGENT, ...ADMIN, idempotencyKey: "login-retry-1" });
      expect(again.tokens?.refreshToken).toBe(first.tokens?.refreshToken);
      expect(again.tokens?.accessToken).toBe(first.tokens?.accessToken);
      // Stored replies hold tokens: sealed, never in clear.
      const stored = await h.q("SELECT response FROM ostmesh_idempotency WHERE idem_key = 'login-retry-1'");
      expect(Buffer.from(stored[0]?.response as Uint8Array).toString("utf8")).not.toContain(
        first.tokens?.refreshToken ?? "x",
      );
      expect(await codeOf(h.client.login({ kind: AGENT, ...ADMIN, idempotencyKey: "k".repeat(129) }))).toBe(
        Code.InvalidArgument,
      );
    });
  });

  describe("tokens", () => {
    it("signs ES256 access tokens that verify against the published JWKS, with the agent's authority", async () => {
      const res = await h.client.login({ kind: AGENT, ...ADMIN });
      const token = res.tokens?.accessToken ?? "";
      const jwks = await h.client.getJwks({});
      expect(jwks.keys.length).toBeGreaterThan(0);
      expect(jwks.keys[0]).toMatchObject({ kty: "EC", alg: "ES256", use: "sig", crv: "P-256" });
      const header = decodeProtectedHeader(token);
      expect(header).toMatchObject({ alg: "ES256", typ: "at+jwt" });
      expect(jwks.keys.map((k) => k.kid)).toContain(header.kid);
      const set = createLocalJWKSet({
        keys: jwks.keys.map((k) => ({ kty: k.kty, kid: k.kid, alg: k.alg, crv: k.crv, x: k.x, y: k.y })),
      });
      const { payload } = await jwtVerify(token, set, {
        issuer: h.config.auth.issuer,
        audience: h.config.auth.audience,
      });
      expect(payload.sub).toBe("agent:1");
      expect(payload.sid).toEqual(expect.any(String));
      const lifetime = Number(payload.exp) - Number(payload.iat);
      expect(lifetime).toBe(h.config.accessTokenTtlMs / 1000);
      // Nothing private is published.
      expect(JSON.stringify(jwks.keys)).not.toMatch(/"d"/);
    });

    it("WhoAmI returns the caller; anonymous callers are UNAUTHENTICATED", async () => {
      const who = await h.client.whoAmI({}, { headers: await h.adminHeaders() });
      expect(who.principal?.actor?.username).toBe("ostadmin");
      expect(who.principal?.credentialId).toMatch(/.+/);
      expect(await codeOf(h.client.whoAmI({}))).toBe(Code.Unauthenticated);
      expect(await codeOf(h.client.whoAmI({}, { headers: { authorization: "Bearer x.y.z" } }))).toBe(
        Code.Unauthenticated,
      );
    });

    it("rotates refresh tokens on every use; a reused token revokes the whole family", async () => {
      const login = await h.client.login({ kind: END_USER, username: "dana", password: "test12345" });
      const first = login.tokens?.refreshToken ?? "";
      const r1 = await h.client.refresh({ refreshToken: first });
      const second = r1.tokens?.refreshToken ?? "";
      expect(second).not.toBe(first);
      expect(r1.principal?.actor?.id).toBe(userId);
      // The stored row holds the hash only.
      const rows = await h.q("SELECT token_hash FROM ostmesh_refresh_token WHERE token_hash = SHA2(?, 256)", [
        second,
      ]);
      expect(rows).toHaveLength(1);
      expect(await h.q("SELECT id FROM ostmesh_refresh_token WHERE token_hash = ?", [second])).toEqual([]);
      // Theft: the first token shows up again → UNAUTHENTICATED and the family is gone, the newest token too.
      expect(await codeOf(h.client.refresh({ refreshToken: first }))).toBe(Code.Unauthenticated);
      expect(await codeOf(h.client.refresh({ refreshToken: second }))).toBe(Code.Unauthenticated);
      const family = await h.q(
        "SELECT COUNT(*) AS n, SUM(revoked_at IS NOT NULL) AS revoked, MAX(revoke_reason) AS reason FROM ostmesh_refresh_token" +
          " WHERE family_id = (SELECT family_id FROM ostmesh_refresh_token WHERE token_hash = SHA2(?, 256))",
        [first],
      );
      expect(Number(family[0]?.n)).toBe(2);
      expect(Number(family[0]?.revoked)).toBe(2);
      expect(family[0]?.reason).toBe("reuse");
      // The session's access token dies with it (the interceptor re-reads the session).
      const access = r1.tokens?.accessToken ?? "";
      expect(await codeOf(h.client.whoAmI({}, { headers: { authorization: `Bearer ${access}` } }))).toBe(
        Code.Unauthenticated,
      );
    });

    it("replays a retried rotation with the same idempotency key instead of detecting theft", async () => {
      const login = await h.client.login({ kind: AGENT, ...ADMIN });
      const token = login.tokens?.refreshToken ?? "";
      const a = await h.client.refresh({ refreshToken: token, idempotencyKey: "rot-1" });
      const b = await h.client.refresh({ refreshToken: token, idempotencyKey: "rot-1" });
      expect(b.tokens?.refreshToken).toBe(a.tokens?.refreshToken);
      expect(await codeOf(h.client.refresh({ refreshToken: a.tokens?.refreshToken ?? "" }))).toBe("ok");
    });

    it("rejects unknown, expired and empty refresh tokens, and sessions of disabled agents", async () => {
      expect(await codeOf(h.client.refresh({ refreshToken: "osr_unknown" }))).toBe(Code.Unauthenticated);
      expect(await codeOf(h.client.refresh({ refreshToken: "not-even-ours" }))).toBe(Code.Unauthenticated);
      expect(await codeOf(h.client.refresh({ refreshToken: "" }))).toBe(Code.InvalidArgument);
      const login = await h.client.login({ kind: AGENT, username: "carol", password: "Carol-Pass-1" });
      const token = login.tokens?.refreshToken ?? "";
      await exec(
        "UPDATE ostmesh_refresh_token SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE token_hash = SHA2(?, 256)",
        [token],
      );
      expect(await codeOf(h.client.refresh({ refreshToken: token }))).toBe(Code.Unauthenticated);
      const again = await h.client.login({ kind: AGENT, username: "carol", password: "Carol-Pass-1" });
      await exec("UPDATE ost_staff SET isactive = 0 WHERE staff_id = ?", [agentId]);
      expect(await codeOf(h.client.refresh({ refreshToken: again.tokens?.refreshToken ?? "" }))).toBe(
        Code.Unauthenticated,
      );
      const [row] = await h.q(
        "SELECT revoke_reason FROM ostmesh_refresh_token WHERE token_hash = SHA2(?, 256)",
        [again.tokens?.refreshToken ?? ""],
      );
      expect(row?.revoke_reason).toBe("account");
      await exec("UPDATE ost_staff SET isactive = 1 WHERE staff_id = ?", [agentId]);
    });

    it("Logout revokes the session: refresh and access tokens stop working; unknown tokens are not an error", async () => {
      const login = await h.client.login({ kind: END_USER, username: "dana", password: "test12345" });
      const headers = { authorization: `Bearer ${login.tokens?.accessToken}` };
      expect(await codeOf(h.client.whoAmI({}, { headers }))).toBe("ok");
      await h.client.logout({ refreshToken: login.tokens?.refreshToken ?? "" });
      expect(await codeOf(h.client.refresh({ refreshToken: login.tokens?.refreshToken ?? "" }))).toBe(
        Code.Unauthenticated,
      );
      expect(await codeOf(h.client.whoAmI({}, { headers }))).toBe(Code.Unauthenticated);
      expect(await codeOf(h.client.logout({ refreshToken: "osr_never_issued" }))).toBe("ok");
      expect(await codeOf(h.client.logout({ refreshToken: "" }))).toBe(Code.InvalidArgument);
      expect(await codeOf(h.client.logout({ refreshToken: "x", idempotencyKey: "k".repeat(200) }))).toBe(
        Code.InvalidArgument,
      );
    });

    it("issues SERVICE tokens to configured services only", async () => {
      const res = await h.client.issueServiceToken({ serviceName: "gateway", secret: h.gatewaySecret });
      expect(res.principal?.actor).toMatchObject({ kind: PrincipalKind.SERVICE, username: "gateway" });
      expect(res.principal?.scopes).toEqual(["auth:check", "syslog:write", "tickets:read", "files:read"]);
      expect(res.tokens?.refreshToken).toBe("");
      const who = await h.client.whoAmI(
        {},
        { headers: { authorization: `Bearer ${res.tokens?.accessToken}` } },
      );
      expect(who.principal?.actor?.kind).toBe(PrincipalKind.SERVICE);
      expect(
        await codeOf(h.client.issueServiceToken({ serviceName: "gateway", secret: `${h.gatewaySecret}x` })),
      ).toBe(Code.Unauthenticated);
      expect(
        await codeOf(h.client.issueServiceToken({ serviceName: "mallory", secret: h.gatewaySecret })),
      ).toBe(Code.Unauthenticated);
      expect(await codeOf(h.client.issueServiceToken({ serviceName: "gateway", secret: "" }))).toBe(
        Code.InvalidArgument,
      );
      // An agent may not ask for service tokens.
      expect(
        await codeOf(
          h.client.issueServiceToken(
            { serviceName: "gateway", secret: h.gatewaySecret },
            { headers: await h.adminHeaders() },
          ),
        ),
      ).toBe(Code.PermissionDenied);
    });

    it("keeps old keys published after a rotation so tokens they signed still verify", async () => {
      const before = await h.client.login({ kind: AGENT, ...ADMIN });
      const oldKid = decodeProtectedHeader(before.tokens?.accessToken ?? "").kid;
      const newKid = await h.identity.keys.rotate(h.orm.em.fork());
      const kids = (await h.client.getJwks({})).keys.map((k) => k.kid);
      expect(kids).toContain(oldKid);
      expect(kids).toContain(newKid);
      // The new key waits for its activation delay; tokens already out keep working meanwhile.
      expect(
        await codeOf(
          h.client.whoAmI({}, { headers: { authorization: `Bearer ${before.tokens?.accessToken}` } }),
        ),
      ).toBe("ok");
      await exec("UPDATE ostmesh_signing_key SET created_at = created_at - INTERVAL 2 MINUTE WHERE kid = ?", [
        newKid,
      ]);
      const fresh = createIdentityLikeKeys(h);
      const after = await fresh.signingKey(h.orm.em.fork());
      expect(after.kid).toBe(newKid);
      const [old] = await h.q(
        "SELECT retired_at IS NOT NULL AS retired, expires_at > UTC_TIMESTAMP(6) AS published FROM ostmesh_signing_key WHERE kid = ?",
        [oldKid],
      );
      expect(Number(old?.retired)).toBe(1);
      expect(Number(old?.published)).toBe(1);
      expect(
        await codeOf(
          h.client.whoAmI({}, { headers: { authorization: `Bearer ${before.tokens?.accessToken}` } }),
        ),
      ).toBe("ok");
    });
  });
});

/** A second SigningKeys on the same table (another replica), without the first one's cache. */
function createIdentityLikeKeys(h: IdentityHarness): SigningKeys {
  return new SigningKeys({
    algorithm: h.config.signingAlgorithm,
    rotationMs: h.config.keyRotationMs,
    maxTokenTtlMs: h.config.accessTokenTtlMs,
    box: h.identity.box,
  });
}
