import { Migration } from "@mikro-orm/migrations";

/**
 * Change capture's snapshot of the ost_ticket fields it publishes (status, department, assignment, help
 * topic, SLA, owner, due date, priority), one row per ticket: a change osTicket makes to ost_ticket without a
 * thread event is found by comparing the ticket with it. `version` counts the snapshots (the exactly-once key
 * of a published change, with the ticket id); `ticket_updated` and `thread_event_id` say which ost_ticket
 * write and which thread events the snapshot already covers.
 */
export class Migration20260504000000_capture_ticket extends Migration {
  override name = "Migration20260504000000_capture_ticket";

  override up(): void {
    this.addSql(`CREATE TABLE IF NOT EXISTS ostmesh_capture_ticket (
  ticket_id INT UNSIGNED NOT NULL,
  status_id INT UNSIGNED NOT NULL DEFAULT 0,
  dept_id INT UNSIGNED NOT NULL DEFAULT 0,
  staff_id INT UNSIGNED NOT NULL DEFAULT 0,
  team_id INT UNSIGNED NOT NULL DEFAULT 0,
  topic_id INT UNSIGNED NOT NULL DEFAULT 0,
  sla_id INT UNSIGNED NOT NULL DEFAULT 0,
  user_id INT UNSIGNED NOT NULL DEFAULT 0,
  duedate BIGINT UNSIGNED NOT NULL DEFAULT 0,
  priority_id INT UNSIGNED NOT NULL DEFAULT 0,
  hash CHAR(64) NOT NULL,
  version INT UNSIGNED NOT NULL DEFAULT 0,
  ticket_updated BIGINT UNSIGNED NOT NULL DEFAULT 0,
  thread_event_id BIGINT UNSIGNED NOT NULL DEFAULT 0,
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (ticket_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
  }

  override down(): void {
    this.addSql("DROP TABLE IF EXISTS ostmesh_capture_ticket");
  }
}
