import { Migration } from "@mikro-orm/migrations";

/**
 * The osTicket files (ost_file ids and the names they are attached under) a queued e-mail carries, as
 * osTicket attaches a thread entry's files when `email_attachments` is on. The bytes stay in ost_file_chunk
 * and are read when the e-mail is sent.
 */
export class Migration20260507000000_email_attachments extends Migration {
  override name = "Migration20260507000000_email_attachments";

  override up(): void {
    this.addSql("ALTER TABLE ostmesh_email ADD COLUMN IF NOT EXISTS attachments TEXT NULL");
  }

  override down(): void {
    this.addSql("ALTER TABLE ostmesh_email DROP COLUMN IF EXISTS attachments");
  }
}
