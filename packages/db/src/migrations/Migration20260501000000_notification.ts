import { Migration } from "@mikro-orm/migrations";

const TABLE_OPTIONS = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

/**
 * The notification service's tables:
 * - change capture of osTicket's PHP side: cursors per source table, the rows ostmesh wrote itself (read back
 *   from its outbox events), and the osTicket rows already published (the exactly-once guard);
 * - e-mail notifications to send (one row per event, template and recipient: the send-once guard);
 * - webhook subscriptions, their signing secrets and their delivery log.
 */
export class Migration20260501000000_notification extends Migration {
  override name = "Migration20260501000000_notification";

  override up(): void {
    this.addSql(`CREATE TABLE IF NOT EXISTS ostmesh_capture_cursor (
  source VARCHAR(32) NOT NULL,
  position BIGINT UNSIGNED NOT NULL,
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (source)
) ${TABLE_OPTIONS}`);
    this.addSql(`CREATE TABLE IF NOT EXISTS ostmesh_capture_claim (
  kind VARCHAR(16) NOT NULL,
  row_id BIGINT UNSIGNED NOT NULL,
  outbox_id BIGINT UNSIGNED NOT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (kind, row_id),
  KEY ix_capture_claim_created (created_at)
) ${TABLE_OPTIONS}`);
    this.addSql(`CREATE TABLE IF NOT EXISTS ostmesh_capture_published (
  source VARCHAR(16) NOT NULL,
  row_id BIGINT UNSIGNED NOT NULL,
  outcome VARCHAR(16) NOT NULL,
  event_id VARCHAR(128) NOT NULL DEFAULT '',
  outbox_id BIGINT UNSIGNED NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (source, row_id),
  KEY ix_capture_published_created (created_at)
) ${TABLE_OPTIONS}`);
    this.addSql(`CREATE TABLE IF NOT EXISTS ostmesh_email (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  event_id VARCHAR(128) NOT NULL,
  template VARCHAR(32) NOT NULL,
  recipient VARCHAR(255) COLLATE utf8mb4_general_ci NOT NULL,
  recipient_name VARCHAR(255) NOT NULL DEFAULT '',
  cc TEXT NULL,
  from_address VARCHAR(255) NOT NULL,
  from_name VARCHAR(255) NOT NULL DEFAULT '',
  subject VARCHAR(998) NOT NULL,
  body_html MEDIUMTEXT NOT NULL,
  message_id VARCHAR(255) NOT NULL,
  in_reply_to VARCHAR(255) NULL,
  references_ids TEXT NULL,
  ticket_id INT UNSIGNED NOT NULL DEFAULT 0,
  status TINYINT UNSIGNED NOT NULL DEFAULT 1,
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  next_attempt_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  lease_until DATETIME(6) NULL,
  last_error VARCHAR(1024) NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  sent_at DATETIME(6) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY ux_email_once (event_id, template, recipient),
  KEY ix_email_due (status, next_attempt_at)
) ${TABLE_OPTIONS}`);
    this.addSql(`CREATE TABLE IF NOT EXISTS ostmesh_webhook (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT,
  url VARCHAR(2048) NOT NULL,
  event_types TEXT NOT NULL,
  filter TEXT NOT NULL,
  description VARCHAR(255) NOT NULL DEFAULT '',
  active TINYINT(1) UNSIGNED NOT NULL DEFAULT 1,
  disabled_reason VARCHAR(255) NULL,
  consecutive_failures INT UNSIGNED NOT NULL DEFAULT 0,
  failing_since DATETIME(6) NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  deleted_at DATETIME(6) NULL,
  PRIMARY KEY (id),
  KEY ix_webhook_live (deleted_at, id)
) ${TABLE_OPTIONS}`);
    this.addSql(`CREATE TABLE IF NOT EXISTS ostmesh_webhook_secret (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT,
  webhook_id INT UNSIGNED NOT NULL,
  secret VARCHAR(255) NOT NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  expires_at DATETIME(6) NULL,
  PRIMARY KEY (id),
  KEY ix_webhook_secret_webhook (webhook_id, id)
) ${TABLE_OPTIONS}`);
    this.addSql(`CREATE TABLE IF NOT EXISTS ostmesh_webhook_delivery (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT,
  webhook_id INT UNSIGNED NOT NULL,
  event_id VARCHAR(128) NOT NULL,
  event_type VARCHAR(64) NOT NULL,
  dedupe_key VARCHAR(128) NULL,
  body MEDIUMTEXT NOT NULL,
  status TINYINT UNSIGNED NOT NULL DEFAULT 1,
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  last_response_status SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  last_error VARCHAR(1024) NOT NULL DEFAULT '',
  last_duration_ms INT UNSIGNED NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  last_attempt_at DATETIME(6) NULL,
  next_attempt_at DATETIME(6) NULL,
  lease_until DATETIME(6) NULL,
  replay_of INT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (id),
  UNIQUE KEY ux_delivery_once (webhook_id, dedupe_key),
  KEY ix_delivery_due (status, next_attempt_at),
  KEY ix_delivery_list (webhook_id, id)
) ${TABLE_OPTIONS}`);
  }

  override down(): void {
    for (const table of [
      "ostmesh_webhook_delivery",
      "ostmesh_webhook_secret",
      "ostmesh_webhook",
      "ostmesh_email",
      "ostmesh_capture_published",
      "ostmesh_capture_claim",
      "ostmesh_capture_cursor",
    ])
      this.addSql(`DROP TABLE IF EXISTS ${table}`);
  }
}
