import { Code, ConnectError } from "@connectrpc/connect";
import type { EntityManager } from "@ostmesh/db";
import { execute, query, sqlReader } from "@ostmesh/db";
import {
  findAccountUserIdByLogin,
  findAgentIdByLogin,
  loadAgentPrincipal,
  loadEndUserPrincipal,
  num,
  str,
  UserAccountStatus,
} from "@ostmesh/kit/auth/index.ts";
import type { Principal } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { dummyPasswordCheck, hashPassword, verifyPassword } from "./passwords.ts";

export type AccountKind = "agent" | "end_user";

/** osTicket's lockout settings (ost_config core keys; OsticketConfig defaults when absent). */
export interface LockoutSettings {
  maxLogins: number;
  timeoutMinutes: number;
}

const DEFAULT_MAX_LOGINS = 4;
const DEFAULT_LOGIN_TIMEOUT_MINUTES = 2;
/** Failures older than this are forgotten (osTicket forgets them with the PHP session). */
const FAILURE_WINDOW_SECONDS = 3600;

/** The one message for bad credentials: it never says whether the name or the password was wrong. */
export const BAD_CREDENTIALS = "invalid username or password";

export async function lockoutSettings(em: EntityManager, kind: AccountKind): Promise<LockoutSettings> {
  const prefix = kind === "agent" ? "staff" : "client";
  const rows = await query(
    em,
    "SELECT `key`, value FROM ost_config WHERE namespace = 'core' AND `key` IN (?, ?)",
    [`${prefix}_max_logins`, `${prefix}_login_timeout`],
  );
  const value = (key: string, fallback: number) => {
    const raw = rows.find((r) => str(r.key) === key)?.value;
    const n = Number.parseInt(str(raw), 10);
    return Number.isFinite(n) && n > 0 ? n : fallback;
  };
  return {
    maxLogins: value(`${prefix}_max_logins`, DEFAULT_MAX_LOGINS),
    timeoutMinutes: value(`${prefix}_login_timeout`, DEFAULT_LOGIN_TIMEOUT_MINUTES),
  };
}

/**
 * Failed logins per account name in ostmesh_login_failure (osTicket counts "strikes" in the PHP session):
 * after more than max_logins failures the name is refused for login_timeout minutes, whatever the password.
 * Names are counted whether or not an account exists, so the lockout does not reveal which ones do.
 */
export class LoginThrottle {
  /** Seconds until the name may try again; 0 when it may now. */
  async lockedFor(em: EntityManager, kind: AccountKind, login: string): Promise<number> {
    const [row] = await query(
      em,
      "SELECT GREATEST(0, CEIL(TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), locked_until) / 1000000)) AS wait" +
        " FROM ostmesh_login_failure WHERE principal_kind = ? AND login = ? AND locked_until > UTC_TIMESTAMP(6)",
      [kind, normalizeLogin(login)],
    );
    return row ? num(row.wait) : 0;
  }

  /** Counts a failure; returns the seconds of lockout it caused (0 = not locked). */
  async recordFailure(
    em: EntityManager,
    kind: AccountKind,
    login: string,
    s: LockoutSettings,
  ): Promise<number> {
    const name = normalizeLogin(login);
    return em.transactional(async (tx) => {
      // Assignments run left to right: `failures` still sees the old locked_until and last_failure_at.
      await execute(
        tx,
        "INSERT INTO ostmesh_login_failure (principal_kind, login, failures, last_failure_at, locked_until)" +
          " VALUES (?, ?, 1, UTC_TIMESTAMP(6), NULL) ON DUPLICATE KEY UPDATE" +
          " failures = IF((locked_until IS NOT NULL AND locked_until <= UTC_TIMESTAMP(6))" +
          "   OR last_failure_at < UTC_TIMESTAMP(6) - INTERVAL ? SECOND, 1, failures + 1)," +
          " locked_until = IF(locked_until IS NOT NULL AND locked_until <= UTC_TIMESTAMP(6), NULL, locked_until)," +
          " last_failure_at = UTC_TIMESTAMP(6)",
        [kind, name, FAILURE_WINDOW_SECONDS],
      );
      await execute(
        tx,
        "UPDATE ostmesh_login_failure SET locked_until = UTC_TIMESTAMP(6) + INTERVAL ? MINUTE" +
          " WHERE principal_kind = ? AND login = ? AND failures > ? AND locked_until IS NULL",
        [s.timeoutMinutes, kind, name, s.maxLogins],
      );
      return this.lockedFor(tx, kind, name);
    });
  }

  async clear(em: EntityManager, kind: AccountKind, login: string): Promise<void> {
    await execute(em, "DELETE FROM ostmesh_login_failure WHERE principal_kind = ? AND login = ?", [
      kind,
      normalizeLogin(login),
    ]);
  }
}

function normalizeLogin(login: string): string {
  return login.trim().toLowerCase().slice(0, 255);
}

function lockedError(seconds: number): ConnectError {
  const minutes = Math.max(1, Math.ceil(seconds / 60));
  return new ConnectError(
    `too many failed login attempts; try again in ${minutes} minute${minutes === 1 ? "" : "s"}`,
    Code.ResourceExhausted,
  );
}

/**
 * Logs agents in against ost_staff and end users against ost_user_account, the way osTicket does:
 * lookup by username or e-mail address, osTicket's password hashes (legacy MD5 upgraded to bcrypt on
 * success), lockout after repeated failures, account status (agents: isactive; end users: LOCKED and
 * CONFIRMED), and ost_staff.lastlogin = NOW() on an agent's success.
 */
export class Authenticator {
  readonly #throttle = new LoginThrottle();

  async login(em: EntityManager, kind: AccountKind, login: string, password: string): Promise<Principal> {
    const name = login.trim();
    if (name === "" || password === "")
      throw new ConnectError("username and password are required", Code.InvalidArgument);
    const waiting = await this.#throttle.lockedFor(em, kind, name);
    if (waiting > 0) throw lockedError(waiting);
    const principal =
      kind === "agent" ? await this.#agent(em, name, password) : await this.#endUser(em, name, password);
    if (!principal) {
      const settings = await lockoutSettings(em, kind);
      const locked = await this.#throttle.recordFailure(em, kind, name, settings);
      if (locked > 0) throw lockedError(locked);
      throw new ConnectError(BAD_CREDENTIALS, Code.Unauthenticated);
    }
    await this.#throttle.clear(em, kind, name);
    return principal;
  }

  /** undefined = bad credentials (counted); throws for a right password on an unusable account. */
  async #agent(em: EntityManager, login: string, password: string): Promise<Principal | undefined> {
    const q = sqlReader(em);
    const staffId = await findAgentIdByLogin(q, login);
    const [staff] =
      staffId === undefined
        ? []
        : await query(em, "SELECT staff_id, passwd, isactive FROM ost_staff WHERE staff_id = ?", [staffId]);
    if (!staff) {
      await dummyPasswordCheck(password);
      return undefined;
    }
    const check = await verifyPassword(password, str(staff.passwd));
    if (!check.ok) return undefined;
    if (num(staff.isactive) !== 1) throw new ConnectError("the account is disabled", Code.PermissionDenied);
    await em.transactional(async (tx) => {
      if (check.upgrade)
        await execute(tx, "UPDATE ost_staff SET passwd = ? WHERE staff_id = ?", [
          await hashPassword(password),
          staffId,
        ]);
      await execute(tx, "UPDATE ost_staff SET lastlogin = NOW() WHERE staff_id = ?", [staffId]);
    });
    const principal = await loadAgentPrincipal(q, num(staff.staff_id));
    if (!principal) throw new ConnectError("the account is disabled", Code.PermissionDenied);
    return principal;
  }

  async #endUser(em: EntityManager, login: string, password: string): Promise<Principal | undefined> {
    const q = sqlReader(em);
    const userId = await findAccountUserIdByLogin(q, login);
    const [account] =
      userId === undefined
        ? []
        : await query(em, "SELECT id, user_id, status, passwd FROM ost_user_account WHERE user_id = ?", [
            userId,
          ]);
    if (!account) {
      await dummyPasswordCheck(password);
      return undefined;
    }
    const check = await verifyPassword(password, str(account.passwd));
    if (!check.ok) return undefined;
    const status = num(account.status);
    if (status & UserAccountStatus.LOCKED)
      throw new ConnectError("the account is locked", Code.PermissionDenied);
    if (!(status & UserAccountStatus.CONFIRMED))
      throw new ConnectError("the account has not been confirmed", Code.FailedPrecondition);
    if (check.upgrade)
      await execute(em, "UPDATE ost_user_account SET passwd = ? WHERE id = ?", [
        await hashPassword(password),
        num(account.id),
      ]);
    const principal = await loadEndUserPrincipal(q, num(account.user_id));
    if (!principal) throw new ConnectError("the account is locked", Code.PermissionDenied);
    return principal;
  }
}
