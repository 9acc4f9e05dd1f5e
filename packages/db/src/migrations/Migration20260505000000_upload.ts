import { Migration } from "@mikro-orm/migrations";

/**
 * Who uploaded each file ostmesh stored (AttachmentService.UploadFile / UploadFileStream), one row per file
 * and uploader: identical bytes are stored once, so a deduplicated upload adds its uploader to the same
 * ost_file row. Until the file is attached to something, only its uploaders (and services) may link it.
 * `file_key` is the ost_file.key at upload time: a row whose file was deleted by osTicket's own cron and
 * whose id was reused never matches the new file. `principal_kind` is `agent`, `user`, `apikey:osticket`,
 * `apikey:ostmesh`, `service` or `system`; `credential_id` the token id (or key id) the upload came with.
 */
export class Migration20260505000000_upload extends Migration {
  override name = "Migration20260505000000_upload";

  override up(): void {
    this.addSql(`CREATE TABLE IF NOT EXISTS ostmesh_upload (
  file_id INT UNSIGNED NOT NULL,
  principal_kind VARCHAR(16) NOT NULL,
  principal_id INT UNSIGNED NOT NULL,
  file_key VARCHAR(86) NOT NULL,
  credential_id VARCHAR(128) NOT NULL DEFAULT '',
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (file_id, principal_kind, principal_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
  }

  override down(): void {
    this.addSql("DROP TABLE IF EXISTS ostmesh_upload");
  }
}
