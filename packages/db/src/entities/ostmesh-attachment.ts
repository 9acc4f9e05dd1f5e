import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { DbDateTime } from "./types.ts";

/** The attachment service's own table (see Migration20260505000000_upload), column for column. */

/**
 * One uploader of one stored file (ost_file.id): until the file is attached to something, only its
 * uploaders and services may link it (kit auth fileVisibility). Rows go with the file when unattached files
 * are purged.
 */
export const OstmeshUpload = defineEntity({
  name: "OstmeshUpload",
  tableName: "ostmesh_upload",
  properties: {
    fileId: p.integer().unsigned().name("file_id").primary().autoincrement(false),
    /** `agent`, `user`, `apikey:osticket`, `apikey:ostmesh`, `service` or `system`. */
    principalKind: p.string().length(16).name("principal_kind").primary(),
    /** ost_staff.staff_id, ost_user.id or the key's id; 0 for services and the system. */
    principalId: p.integer().unsigned().name("principal_id").primary(),
    /** ost_file.key when the upload was recorded: a reused file id with another key is not this file. */
    fileKey: p.string().length(86).name("file_key"),
    /** The access token id (or API key id) the upload came with, for audits. */
    credentialId: p.string().length(128).name("credential_id").default(""),
    createdAt: p
      .type(DbDateTime)
      .columnType("datetime(6)")
      .name("created_at")
      .defaultRaw("current_timestamp(6)"),
  },
});
export type OstmeshUpload = InferEntity<typeof OstmeshUpload>;

export const attachmentEntities = [OstmeshUpload];
