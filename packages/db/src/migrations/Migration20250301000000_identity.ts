import { Migration } from "@mikro-orm/migrations";

/**
 * The identity service's tables: token signing keys, refresh tokens, ostmesh API keys and failed-login
 * counters. Every time column holds UTC (written with UTC_TIMESTAMP(6)), unlike osTicket's tables, whose
 * DATETIMEs are in the database server's zone: these rows are compared with token times, never shown by
 * osTicket. Secrets are never stored in clear: refresh tokens and API keys as SHA-256, private signing keys
 * encrypted (AES-256-GCM) with the key-encryption key from the environment.
 */
export class Migration20250301000000_identity extends Migration {
  override name = "Migration20250301000000_identity";

  override up(): void {
    this.addSql(`CREATE TABLE IF NOT EXISTS ostmesh_signing_key (
  kid VARCHAR(64) NOT NULL,
  alg VARCHAR(16) NOT NULL,
  public_jwk TEXT NOT NULL,
  private_key TEXT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  retired_at DATETIME(6) NULL,
  expires_at DATETIME(6) NULL,
  PRIMARY KEY (kid),
  KEY ix_signing_key_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
    this.addSql(`CREATE TABLE IF NOT EXISTS ostmesh_refresh_token (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  token_hash CHAR(64) NOT NULL,
  family_id CHAR(32) NOT NULL,
  principal_kind VARCHAR(16) NOT NULL,
  principal_id INT UNSIGNED NOT NULL,
  created_at DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  family_expires_at DATETIME(6) NOT NULL,
  rotated_at DATETIME(6) NULL,
  revoked_at DATETIME(6) NULL,
  revoke_reason VARCHAR(32) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY ux_refresh_token_hash (token_hash),
  KEY ix_refresh_token_family (family_id),
  KEY ix_refresh_token_principal (principal_kind, principal_id),
  KEY ix_refresh_token_expires (family_expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
    this.addSql(`CREATE TABLE IF NOT EXISTS ostmesh_api_key (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT,
  key_prefix VARCHAR(16) NOT NULL,
  secret_hash CHAR(64) NOT NULL,
  description VARCHAR(255) NOT NULL DEFAULT '',
  scopes TEXT NOT NULL,
  allowed_ips TEXT NOT NULL,
  created_by VARCHAR(64) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NULL,
  revoked_at DATETIME(6) NULL,
  last_used_at DATETIME(6) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY ux_api_key_prefix (key_prefix)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
    this.addSql(`CREATE TABLE IF NOT EXISTS ostmesh_login_failure (
  principal_kind VARCHAR(16) NOT NULL,
  login VARCHAR(255) NOT NULL,
  failures INT UNSIGNED NOT NULL DEFAULT 0,
  last_failure_at DATETIME(6) NOT NULL,
  locked_until DATETIME(6) NULL,
  PRIMARY KEY (principal_kind, login)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
  }

  override down(): void {
    this.addSql("DROP TABLE IF EXISTS ostmesh_login_failure");
    this.addSql("DROP TABLE IF EXISTS ostmesh_api_key");
    this.addSql("DROP TABLE IF EXISTS ostmesh_refresh_token");
    this.addSql("DROP TABLE IF EXISTS ostmesh_signing_key");
  }
}
