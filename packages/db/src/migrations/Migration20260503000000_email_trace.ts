import { Migration } from "@mikro-orm/migrations";

/**
 * The W3C trace context of the event a queued e-mail answers, so its SMTP send (later, after retries, maybe
 * in another replica) continues the trace of the change that caused it, as webhook deliveries do.
 */
export class Migration20260503000000_email_trace extends Migration {
  override name = "Migration20260503000000_email_trace";

  override up(): void {
    this.addSql("ALTER TABLE ostmesh_email ADD COLUMN IF NOT EXISTS trace_context VARCHAR(1024) NULL");
  }

  override down(): void {
    this.addSql("ALTER TABLE ostmesh_email DROP COLUMN IF EXISTS trace_context");
  }
}
