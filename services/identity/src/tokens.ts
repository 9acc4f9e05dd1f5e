import { clone, create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { EntityManager } from "@ostmesh/db";
import { execute, query } from "@ostmesh/db";
import { ACCESS_TOKEN_TYPE, type KeyBinding, num, principalClaims, str } from "@ostmesh/kit/auth/index.ts";
import { type Principal, PrincipalSchema } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import {
  type TokenPair,
  TokenPairSchema,
} from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";
import { SignJWT } from "jose";
import { randomToken, sha256Hex } from "./crypto.ts";
import type { SigningKeys } from "./keys.ts";
import type { AccountKind } from "./login.ts";

export interface AccessToken {
  token: string;
  jti: string;
  issuedAtMs: number;
  expiresAtMs: number;
}

/** Signs ostmesh access tokens (layout in @ostmesh/kit/auth/claims.ts) with the current signing key. */
export class TokenIssuer {
  readonly #issuer: string;
  readonly #audience: string;
  readonly #keys: SigningKeys;

  constructor(options: { issuer: string; audience: string; keys: SigningKeys }) {
    this.#issuer = options.issuer;
    this.#audience = options.audience;
    this.#keys = options.keys;
  }

  async accessToken(
    em: EntityManager,
    principal: Principal,
    options: { ttlMs: number; sessionId?: string; keyBinding?: KeyBinding },
  ): Promise<AccessToken> {
    const key = await this.#keys.signingKey(em);
    const nowSec = Math.floor(Date.now() / 1000);
    const exp = nowSec + Math.ceil(options.ttlMs / 1000);
    const jti = randomToken(16);
    const claims = principalClaims(principal, options.sessionId, options.keyBinding);
    const token = await new SignJWT({
      ost: claims.ost,
      ...(claims.sid ? { sid: claims.sid } : {}),
      ...(claims.okb ? { okb: claims.okb } : {}),
    })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: ACCESS_TOKEN_TYPE })
      .setIssuer(this.#issuer)
      .setAudience(this.#audience)
      .setSubject(claims.sub)
      .setIssuedAt(nowSec)
      .setNotBefore(nowSec)
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(key.privateKey);
    return { token, jti, issuedAtMs: nowSec * 1000, expiresAtMs: exp * 1000 };
  }
}

/** Refresh tokens look like `osr_<43 base64url chars>`; only their SHA-256 is stored. */
export const REFRESH_TOKEN_PREFIX = "osr_";

export interface RefreshToken {
  token: string;
  familyId: string;
  expiresAtMs: number;
}

export type RotateResult =
  | { ok: true; kind: AccountKind; principalId: number; next: RefreshToken }
  | { ok: false; reason: "unknown" | "expired" | "revoked" }
  | { ok: false; reason: "reused"; familyId: string };

/**
 * Login sessions as families of refresh tokens (ostmesh_refresh_token). Each use rotates: the presented
 * token is marked rotated and a new one of the same family is issued. Presenting a rotated token again is
 * taken as theft: the caller revokes the whole family. Tokens expire after the refresh TTL unused, and the
 * family at the session's maximum age.
 */
export class Sessions {
  readonly #refreshTtlMs: number;
  readonly #maxAgeMs: number;

  constructor(options: { refreshTtlMs: number; sessionMaxAgeMs: number }) {
    this.#refreshTtlMs = options.refreshTtlMs;
    this.#maxAgeMs = options.sessionMaxAgeMs;
  }

  async start(em: EntityManager, kind: AccountKind, principalId: number): Promise<RefreshToken> {
    const familyId = randomToken(24).slice(0, 32);
    return this.#insert(em, kind, principalId, familyId, undefined);
  }

  async rotate(em: EntityManager, presented: string): Promise<RotateResult> {
    if (!presented.startsWith(REFRESH_TOKEN_PREFIX)) return { ok: false, reason: "unknown" };
    const [row] = await query(
      em,
      "SELECT id, family_id, principal_kind, principal_id, rotated_at IS NOT NULL AS rotated," +
        " DATE_FORMAT(family_expires_at, '%Y-%m-%d %H:%i:%s.%f') AS family_end," +
        " revoked_at IS NOT NULL AS revoked, (expires_at <= UTC_TIMESTAMP(6)" +
        " OR family_expires_at <= UTC_TIMESTAMP(6)) AS expired" +
        " FROM ostmesh_refresh_token WHERE token_hash = ? FOR UPDATE",
      [sha256Hex(presented)],
    );
    if (!row) return { ok: false, reason: "unknown" };
    const familyId = str(row.family_id);
    if (num(row.revoked) === 1) return { ok: false, reason: "revoked" };
    if (num(row.rotated) === 1) return { ok: false, reason: "reused", familyId };
    if (num(row.expired) === 1) return { ok: false, reason: "expired" };
    const kind: AccountKind = str(row.principal_kind) === "agent" ? "agent" : "end_user";
    await execute(em, "UPDATE ostmesh_refresh_token SET rotated_at = UTC_TIMESTAMP(6) WHERE id = ?", [
      row.id,
    ]);
    const next = await this.#insert(em, kind, num(row.principal_id), familyId, str(row.family_end));
    return { ok: true, kind, principalId: num(row.principal_id), next };
  }

  /** Revokes every token of a family; returns how many were still unrevoked. */
  async revokeFamily(em: EntityManager, familyId: string, reason: string): Promise<number> {
    const { affectedRows } = await execute(
      em,
      "UPDATE ostmesh_refresh_token SET revoked_at = UTC_TIMESTAMP(6), revoke_reason = ?" +
        " WHERE family_id = ? AND revoked_at IS NULL",
      [reason, familyId],
    );
    return affectedRows;
  }

  /** Logout: revokes the family of a presented token; unknown tokens are ignored. */
  async logout(em: EntityManager, presented: string): Promise<boolean> {
    const [row] = await query(em, "SELECT family_id FROM ostmesh_refresh_token WHERE token_hash = ?", [
      sha256Hex(presented),
    ]);
    if (!row) return false;
    await this.revokeFamily(em, str(row.family_id), "logout");
    return true;
  }

  /** Revokes every session of an account (e.g. after it was disabled). */
  async revokeAccount(em: EntityManager, kind: AccountKind, principalId: number): Promise<number> {
    const { affectedRows } = await execute(
      em,
      "UPDATE ostmesh_refresh_token SET revoked_at = UTC_TIMESTAMP(6), revoke_reason = 'account'" +
        " WHERE principal_kind = ? AND principal_id = ? AND revoked_at IS NULL",
      [kind, principalId],
    );
    return affectedRows;
  }

  /** Deletes families whose maximum age has passed; returns the number of rows removed. */
  async purgeExpired(em: EntityManager, limit = 1000): Promise<number> {
    const { affectedRows } = await execute(
      em,
      "DELETE FROM ostmesh_refresh_token WHERE family_expires_at <= UTC_TIMESTAMP(6) ORDER BY family_expires_at LIMIT ?",
      [limit],
    );
    return affectedRows;
  }

  async #insert(
    em: EntityManager,
    kind: AccountKind,
    principalId: number,
    familyId: string,
    familyExpiresAt: string | undefined,
  ): Promise<RefreshToken> {
    const token = `${REFRESH_TOKEN_PREFIX}${randomToken(32)}`;
    const hash = sha256Hex(token);
    // A rotated token inherits its family's end; a new family gets one from the session maximum age.
    await execute(
      em,
      "INSERT INTO ostmesh_refresh_token (token_hash, family_id, principal_kind, principal_id, created_at," +
        " family_expires_at, expires_at) SELECT ?, ?, ?, ?, UTC_TIMESTAMP(6), fe," +
        " LEAST(fe, UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND)" +
        " FROM (SELECT COALESCE(CAST(? AS DATETIME(6)), UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND) AS fe) AS x",
      [
        hash,
        familyId,
        kind,
        principalId,
        this.#refreshTtlMs * 1000,
        familyExpiresAt ?? null,
        this.#maxAgeMs * 1000,
      ],
    );
    const [row] = await query(
      em,
      "SELECT TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expires_at) DIV 1000 AS expires_ms" +
        " FROM ostmesh_refresh_token WHERE token_hash = ?",
      [hash],
    );
    return { token, familyId, expiresAtMs: num(row?.expires_ms) };
  }
}

/** The wire form of an access token (and refresh token, when the grant has one). */
export function tokenPair(access: AccessToken, refresh?: RefreshToken): TokenPair {
  return create(TokenPairSchema, {
    accessToken: access.token,
    accessTokenExpiresAt: timestampFromMs(access.expiresAtMs),
    refreshToken: refresh?.token ?? "",
    refreshTokenExpiresAt: refresh ? timestampFromMs(refresh.expiresAtMs) : undefined,
    tokenType: "Bearer",
  });
}

/**
 * Issued access tokens by the exact principal (credential id aside) and key binding they carry, reused
 * while fresh.
 */
export class ReusableTokens {
  readonly #tokens = new Map<string, Promise<AccessToken>>();
  readonly #limit: number;
  readonly #now: () => number;

  constructor(options: { limit?: number; now?: () => number } = {}) {
    this.#limit = options.limit ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  async get(
    principal: Principal,
    issue: () => Promise<AccessToken>,
    keyBinding?: KeyBinding,
  ): Promise<AccessToken> {
    const carried = clone(PrincipalSchema, principal);
    carried.credentialId = "";
    const bound = keyBinding ? ` ${JSON.stringify([keyBinding.ip, keyBinding.key])}` : "";
    const key = Buffer.from(toBinary(PrincipalSchema, carried)).toString("base64") + bound;
    const held = this.#tokens.get(key);
    if (held) {
      const token = await held.catch(() => undefined);
      // Reused only with more than half its lifetime left: callers always get a token that outlives them.
      if (token && token.expiresAtMs - this.#now() > (token.expiresAtMs - token.issuedAtMs) / 2) return token;
      if (this.#tokens.get(key) === held) this.#tokens.delete(key);
    }
    if (this.#tokens.size >= this.#limit) this.#tokens.clear();
    const issued = issue();
    this.#tokens.set(key, issued);
    issued.catch(() => this.#tokens.delete(key));
    return issued;
  }
}
