import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { DbDateTime } from "./types.ts";

/**
 * The identity service's tables (see Migration20250301000000_identity), column for column. All time
 * columns hold UTC as `YYYY-MM-DD HH:MM:SS.ffffff` strings.
 */

/** A token signing key pair: public JWK in clear, private key encrypted with the key-encryption key. */
export const OstmeshSigningKey = defineEntity({
  name: "OstmeshSigningKey",
  tableName: "ostmesh_signing_key",
  properties: {
    kid: p.string().length(64).primary(),
    alg: p.string().length(16),
    publicJwk: p.text().name("public_jwk"),
    privateKey: p.text().name("private_key"),
    createdAt: p.type(DbDateTime).columnType("datetime(6)").name("created_at"),
    /** Stopped signing (a newer key took over); still published until expiresAt. */
    retiredAt: p.type(DbDateTime).columnType("datetime(6)").name("retired_at").nullable(),
    /** Removed from the JWKS after this: every token it signed has expired. */
    expiresAt: p.type(DbDateTime).columnType("datetime(6)").name("expires_at").nullable(),
  },
  indexes: [{ name: "ix_signing_key_created", properties: ["createdAt"] }],
});
export type OstmeshSigningKey = InferEntity<typeof OstmeshSigningKey>;

/** One refresh token (stored as SHA-256) of a login session (family). */
export const OstmeshRefreshToken = defineEntity({
  name: "OstmeshRefreshToken",
  tableName: "ostmesh_refresh_token",
  properties: {
    id: p.bigint("string").unsigned().primary().autoincrement(),
    tokenHash: p.string().columnType("char(64)").length(64).name("token_hash"),
    familyId: p.string().columnType("char(32)").length(32).name("family_id"),
    /** "agent" or "end_user". */
    principalKind: p.string().length(16).name("principal_kind"),
    principalId: p.integer().unsigned().name("principal_id"),
    createdAt: p.type(DbDateTime).columnType("datetime(6)").name("created_at"),
    expiresAt: p.type(DbDateTime).columnType("datetime(6)").name("expires_at"),
    familyExpiresAt: p.type(DbDateTime).columnType("datetime(6)").name("family_expires_at"),
    /** Exchanged for a newer token; presenting it again revokes the family. */
    rotatedAt: p.type(DbDateTime).columnType("datetime(6)").name("rotated_at").nullable(),
    revokedAt: p.type(DbDateTime).columnType("datetime(6)").name("revoked_at").nullable(),
    /** "logout", "reuse", "account". */
    revokeReason: p.string().length(32).name("revoke_reason").nullable(),
  },
  uniques: [{ name: "ux_refresh_token_hash", properties: ["tokenHash"] }],
  indexes: [
    { name: "ix_refresh_token_family", properties: ["familyId"] },
    { name: "ix_refresh_token_principal", properties: ["principalKind", "principalId"] },
    { name: "ix_refresh_token_expires", properties: ["familyExpiresAt"] },
  ],
});
export type OstmeshRefreshToken = InferEntity<typeof OstmeshRefreshToken>;

/** An ostmesh API key with scopes; the secret is stored only as SHA-256. */
export const OstmeshApiKey = defineEntity({
  name: "OstmeshApiKey",
  tableName: "ostmesh_api_key",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    keyPrefix: p.string().length(16).name("key_prefix"),
    secretHash: p.string().columnType("char(64)").length(64).name("secret_hash"),
    description: p.string().length(255).default(""),
    /** JSON array of scope strings. */
    scopes: p.text(),
    /** JSON array of IP addresses / CIDR ranges; empty array = any. */
    allowedIps: p.text().name("allowed_ips"),
    /** Subject of the creator, e.g. "agent:1". */
    createdBy: p.string().length(64).name("created_by"),
    createdAt: p.type(DbDateTime).columnType("datetime(6)").name("created_at"),
    expiresAt: p.type(DbDateTime).columnType("datetime(6)").name("expires_at").nullable(),
    revokedAt: p.type(DbDateTime).columnType("datetime(6)").name("revoked_at").nullable(),
    lastUsedAt: p.type(DbDateTime).columnType("datetime(6)").name("last_used_at").nullable(),
  },
  uniques: [{ name: "ux_api_key_prefix", properties: ["keyPrefix"] }],
});
export type OstmeshApiKey = InferEntity<typeof OstmeshApiKey>;

/** Failed logins per (kind, lower-cased login name), for osTicket's max-logins lockout. */
export const OstmeshLoginFailure = defineEntity({
  name: "OstmeshLoginFailure",
  tableName: "ostmesh_login_failure",
  properties: {
    /** "agent" or "end_user". */
    principalKind: p.string().length(16).name("principal_kind").primary(),
    login: p.string().length(255).primary(),
    failures: p.integer().unsigned().default(0),
    lastFailureAt: p.type(DbDateTime).columnType("datetime(6)").name("last_failure_at"),
    lockedUntil: p.type(DbDateTime).columnType("datetime(6)").name("locked_until").nullable(),
  },
});
export type OstmeshLoginFailure = InferEntity<typeof OstmeshLoginFailure>;

export const identityEntities = [OstmeshSigningKey, OstmeshRefreshToken, OstmeshApiKey, OstmeshLoginFailure];
