import { Migration } from "@mikro-orm/migrations";

/**
 * The W3C trace context of the event a webhook delivery carries, so the delivery's HTTP request continues
 * the trace of the change that caused it (gateway -> service -> outbox -> consumer -> webhook).
 */
export class Migration20260502000000_notification_trace extends Migration {
  override name = "Migration20260502000000_notification_trace";

  override up(): void {
    this.addSql(
      "ALTER TABLE ostmesh_webhook_delivery ADD COLUMN IF NOT EXISTS trace_context VARCHAR(1024) NULL",
    );
  }

  override down(): void {
    this.addSql("ALTER TABLE ostmesh_webhook_delivery DROP COLUMN IF EXISTS trace_context");
  }
}
