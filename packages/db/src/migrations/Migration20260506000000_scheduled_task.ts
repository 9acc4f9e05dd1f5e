import { Migration } from "@mikro-orm/migrations";

/**
 * When a daily duty of the scheduled tasks (TicketService.RunScheduledTasks) last finished, one row per duty
 * (`task`, e.g. `purge_logs`), so that a duty osTicket's cron runs about once a day at random runs at most once
 * a day per database however many replicas and cron callers there are. `done_on` is the DB server's date
 * (CURDATE(), the clock osTicket's own timestamps are written by). Lives here rather than in ost_config:
 * ostmesh's bookkeeping stays out of osTicket's tables.
 */
export class Migration20260506000000_scheduled_task extends Migration {
  override name = "Migration20260506000000_scheduled_task";

  override up(): void {
    this.addSql(`CREATE TABLE IF NOT EXISTS ostmesh_scheduled_task (
  task VARCHAR(64) NOT NULL,
  done_on DATE NOT NULL,
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  PRIMARY KEY (task)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
  }

  override down(): void {
    this.addSql("DROP TABLE IF EXISTS ostmesh_scheduled_task");
  }
}
