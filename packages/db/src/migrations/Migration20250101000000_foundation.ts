import { Migration } from "@mikro-orm/migrations";

/**
 * ostmesh's foundation tables: transactional outbox, consumer inbox, idempotency records. Binary collation:
 * subjects, message ids and idempotency keys are identifiers that must match exactly, case included.
 */
export class Migration20250101000000_foundation extends Migration {
  override name = "Migration20250101000000_foundation";

  override up(): void {
    this.addSql(`CREATE TABLE IF NOT EXISTS ostmesh_outbox (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  subject VARCHAR(255) NOT NULL,
  event_type VARCHAR(128) NOT NULL,
  aggregate_type VARCHAR(32) NOT NULL,
  aggregate_id VARCHAR(64) NOT NULL,
  payload MEDIUMBLOB NOT NULL,
  headers TEXT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  published_at DATETIME(6) NULL,
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  next_attempt_at DATETIME(6) NULL,
  last_error VARCHAR(1024) NULL,
  PRIMARY KEY (id),
  KEY ix_outbox_pending (published_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
    this.addSql(`CREATE TABLE IF NOT EXISTS ostmesh_inbox (
  consumer VARCHAR(128) NOT NULL,
  message_id VARCHAR(128) NOT NULL,
  processed_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (consumer, message_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
    this.addSql(`CREATE TABLE IF NOT EXISTS ostmesh_idempotency (
  scope VARCHAR(191) NOT NULL,
  idem_key VARCHAR(128) NOT NULL,
  request_hash CHAR(64) NOT NULL,
  response MEDIUMBLOB NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  expires_at DATETIME(6) NOT NULL,
  PRIMARY KEY (scope, idem_key),
  KEY ix_idempotency_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
  }

  override down(): void {
    this.addSql("DROP TABLE IF EXISTS ostmesh_idempotency");
    this.addSql("DROP TABLE IF EXISTS ostmesh_inbox");
    this.addSql("DROP TABLE IF EXISTS ostmesh_outbox");
  }
}
